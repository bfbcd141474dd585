// Typeset the formulas of a page with the vendored KaTeX: pymdownx.arithmatex (generic mode) leaves them as
// \( ... \) inline and \[ ... \] on their own line. This script runs at the end of the page, so the page is
// there; a second pass finds no delimiters left, so typesetting again when the theme signals a new page
// (document$) is harmless.
(function () {
  function typeset(root) {
    renderMathInElement(root, {
      delimiters: [
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
      ],
      throwOnError: false,
    });
  }
  typeset(document.body);
  if (typeof document$ !== "undefined") {
    document$.subscribe(({ body }) => typeset(body));
  }
})();
