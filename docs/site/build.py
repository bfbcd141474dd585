"""Build biograd's documentation site: ``python docs/site/build.py`` (the tools: docs/requirements.txt).

The site is assembled from the files the repository already keeps, so it cannot drift from them:

- home: README.md (its links rewritten to the site's pages);
- the ten tutorials: each ``docs/tutorials/NN_*.py`` run top to bottom as a notebook (jupytext, nbclient)
  and rendered with its outputs and figures (nbconvert);
- the gallery: docs/pictures.md and its pictures;
- the command line: generated from the parser itself (``biograd.cli.build_parser()``);
- the API: generated from the docstrings (mkdocstrings; the pages in docs/site/api);
- the benchmarks: benchmarks/README.md.

They are staged in ``build/docs-src``; MkDocs (Material theme, ``mkdocs.yml`` at the repository's root)
builds ``build/site`` with warnings as errors; then every page's links and resources are checked against
the built folder, so that the site works offline, opened from disk (``build/site/index.html``), and the API
pages are checked to show every public name.

Options: ``--no-execute`` renders the tutorials without running them (no outputs; for a quick look),
``--jobs N`` runs N tutorials at once (default 2).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
SITE_SOURCES = Path(__file__).resolve().parent
STAGE = ROOT / "build" / "docs-src"
SITE = ROOT / "build" / "site"
TUTORIALS = ROOT / "docs" / "tutorials"


# --------------------------------------------------------------------------------------------------
# Staging the pages
# --------------------------------------------------------------------------------------------------


def rewrite_links(text: str, mapping: dict[str, str]) -> str:
    """Markdown links to repository files become links to the site's pages; links to files the site does
    not have become plain text (their name in code), so that no link points outside the built folder.
    Images the site holds (in ``mapping``) point to its copy; others are left for MkDocs to report."""

    def replace(match: re.Match) -> str:
        image, label, target = match.group(1), match.group(2), match.group(3)
        path, _, anchor = target.partition("#")
        if re.match(r"^[a-z]+:", target) or not path:  # external link or same-page anchor
            return match.group(0)
        if path in mapping:
            return f"{image}[{label}]({mapping[path]}{'#' + anchor if anchor else ''})"
        if image:
            return match.group(0)
        return label if label.startswith("`") else f"{label} (`{path}`)"

    return re.sub(r"(!?)\[([^\]]+)\]\(([^)\s]+)\)", replace, text)


def tutorial_files() -> list[Path]:
    return sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def stage_home() -> None:
    mapping = {"docs/tutorials/README.md": "tutorials/index.md", "docs/pictures.md": "gallery.md"}
    mapping["benchmarks/README.md"] = "benchmarks.md"
    for picture in (ROOT / "docs" / "pictures").iterdir():  # staged beside the gallery
        mapping[f"docs/pictures/{picture.name}"] = f"pictures/{picture.name}"
    for path in tutorial_files():
        mapping[f"docs/tutorials/{path.name}"] = f"tutorials/{path.stem}.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (STAGE / "index.md").write_text(rewrite_links(readme, mapping), encoding="utf-8")


def stage_tutorial_index() -> None:
    mapping = {path.name: f"{path.stem}.md" for path in tutorial_files()}
    text = (TUTORIALS / "README.md").read_text(encoding="utf-8")
    (STAGE / "tutorials" / "index.md").write_text(rewrite_links(text, mapping), encoding="utf-8")


def render_tutorial(path: Path, execute: bool) -> str:
    """One tutorial as Markdown with its outputs; its figures are written next to the page."""
    import jupytext
    import nbclient
    import nbconvert
    from nbconvert import MarkdownExporter

    # nbconvert's templates sit under <prefix>/share/jupyter; a `pip install --target DIR` puts them in
    # DIR/share/jupyter, next to the package, where Jupyter does not look by itself
    beside = Path(nbconvert.__file__).resolve().parents[1] / "share" / "jupyter"
    if beside.is_dir() and str(beside) not in os.environ.get("JUPYTER_PATH", ""):
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            filter(None, [str(beside), os.environ.get("JUPYTER_PATH")])
        )

    notebook = jupytext.read(path)
    if execute:
        env = {"MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        os.environ.update(env)  # the kernels inherit it
        with tempfile.TemporaryDirectory() as work:  # files a tutorial writes stay out of the site
            client = nbclient.NotebookClient(
                notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": work}}
            )
            client.execute()
    body, resources = MarkdownExporter().from_notebook_node(
        notebook, resources={"output_files_dir": f"{path.stem}_files"}
    )
    out_dir = STAGE / "tutorials"
    for name, data in resources.get("outputs", {}).items():
        if name not in body:  # an output the page shows another way (a picture's HTML before its SVG)
            continue
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    source = f"`docs/tutorials/{path.name}`"
    note = (
        f"*This page is {source} run top to bottom; open it as a notebook to change it "
        "([how](index.md#opening-them-as-notebooks)).*\n\n"
    )
    title_end = body.index("\n", body.index("# ")) + 1  # after the tutorial's title
    return body[:title_end] + "\n" + note + body[title_end:]


def stage_tutorials(execute: bool, jobs: int) -> None:
    (STAGE / "tutorials").mkdir(parents=True, exist_ok=True)
    stage_tutorial_index()
    files = tutorial_files()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pages = list(pool.map(lambda p: render_tutorial(p, execute), files))
    for path, page in zip(files, pages, strict=True):
        (STAGE / "tutorials" / f"{path.stem}.md").write_text(page, encoding="utf-8")


def stage_gallery() -> None:
    text = (ROOT / "docs" / "pictures.md").read_text(encoding="utf-8")
    (STAGE / "gallery.md").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "docs" / "pictures", STAGE / "pictures")


def stage_benchmarks() -> None:
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    (STAGE / "benchmarks.md").write_text(rewrite_links(text, {}), encoding="utf-8")


def cli_reference() -> str:
    """The command line, page by page from the parser the CLI itself uses (never written by hand)."""
    os.environ["COLUMNS"] = "100"  # argparse wraps help at the terminal's width: fix it
    from biograd.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    helps = {a.dest: a.help for a in sub._choices_actions}
    parts = [
        "# Command line reference\n",
        "Generated from biograd's own argument parser (`biograd.cli.build_parser()`), so it always matches "
        "the installed version. Every command also answers `--help`.\n",
        "## biograd\n",
        f"```text\n{parser.format_help()}```\n",
    ]
    for name, command in sub.choices.items():
        parts.append(f"## biograd {name}\n")
        if helps.get(name):
            parts.append(f"{helps[name][0].upper()}{helps[name][1:]}.\n")
        parts.append(f"```text\n{command.format_help()}```\n")
    return "\n".join(parts)


def stage(execute: bool, jobs: int) -> None:
    if STAGE.exists():
        shutil.rmtree(STAGE)
    STAGE.mkdir(parents=True)
    shutil.copytree(SITE_SOURCES / "api", STAGE / "api")
    shutil.copy(SITE_SOURCES / "extra.css", STAGE / "extra.css")
    shutil.copy(SITE_SOURCES / "katex-init.js", STAGE / "katex-init.js")
    shutil.copytree(SITE_SOURCES / "vendor", STAGE / "vendor", ignore=shutil.ignore_patterns("*.md"))
    stage_home()
    stage_gallery()
    stage_benchmarks()
    (STAGE / "cli.md").write_text(cli_reference(), encoding="utf-8")
    stage_tutorials(execute, jobs)


# --------------------------------------------------------------------------------------------------
# Checking the built site: every link and resource resolves inside it, nothing is fetched from the web
# --------------------------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.ids.add(value)
            if name in ("href", "src") and tag not in ("iframe",):  # embedded pages carry their own
                self.links.append((tag, name, value))


def check_site(site: Path) -> list[str]:
    """Problems found in the built site: links to missing files or anchors, and resources (scripts,
    stylesheets, images, fonts) that would be fetched from the internet."""
    # 404.html is for a web server (absolute links); the assets hold the theme's own files
    pages = {
        p: _parse(p)
        for p in site.rglob("*.html")
        if p.name != "404.html" and "assets" not in p.relative_to(site).parts[:1]
    }
    problems = []
    for page, parsed in pages.items():
        for tag, attribute, url in parsed.links:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or url.startswith("//"):
                if tag != "a":  # a resource the page needs: it must be in the folder
                    problems.append(f"{page.relative_to(site)}: <{tag} {attribute}> loads {url} from the web")
                continue
            if parts.scheme in ("mailto", "data", "javascript"):
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if parts.path and not target.exists():
                problems.append(f"{page.relative_to(site)}: {url} does not exist in the built site")
                continue
            known = target.suffix == ".html" and target in pages
            if parts.fragment and known and unquote(parts.fragment) not in pages[target].ids:
                problems.append(f"{page.relative_to(site)}: {url}: no anchor #{parts.fragment}")
    return problems


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    return parser


# --------------------------------------------------------------------------------------------------
# Checking the API reference: every public name is on a page
# --------------------------------------------------------------------------------------------------


def check_api_reference(pages: Path, site: Path) -> list[str]:
    """Public names the API pages leave out, which MkDocs cannot see: what griffe does not find is simply
    not shown. Each ``::: module`` of a page must show that module's documented public classes, functions
    and submodules (its ``__all__``, else the ones it defines), and every name of ``biograd.__all__`` must
    be on some page. A package that re-exports without ``__all__``, or a function hidden by a submodule
    of the same name (``biograd.training.fit``, which griffe takes for the module), is caught here."""
    import biograd

    ids = {i for p in (site / "api").glob("*.html") for i in _parse(p).ids if i.startswith("biograd")}
    targets = {
        page.name: re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
        for page in sorted(pages.glob("*.md"))
    }
    shown = {target for page in targets.values() for target in page} | ids
    problems = []
    for page, paths in targets.items():
        for path in paths:
            module = _module(path)
            if module is None:  # one object (a function shadowed by its module's name), not a module
                continue
            for name, obj in _public(module).items():
                if not _on_pages(obj, shown):
                    problems.append(f"api/{page}: {path}.{name} is public but not on the page")
    for name in biograd.__all__:
        obj = getattr(biograd, name)
        if not name.startswith("__") and _documented(obj) and not _on_pages(obj, shown):
            problems.append(f"biograd.{name} (in biograd.__all__) is on no API page")
    return problems


@functools.cache
def _module(path: str) -> ModuleType | None:
    try:
        return importlib.import_module(path)
    except ImportError:
        return None


def _documented(obj: object) -> bool:
    """A submodule, or a class or function with its own docstring (constants and undocumented names are
    not shown by the theme, and cannot be checked at run time)."""
    return isinstance(obj, ModuleType) or (
        (inspect.isclass(obj) or inspect.isfunction(obj)) and bool(obj.__doc__)
    )


def _public(module: ModuleType) -> dict[str, object]:
    names = getattr(module, "__all__", None)
    if names is None:  # what the module (or package) defines itself, not what it imports
        names = [
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(obj) or inspect.isfunction(obj))
            and obj.__module__.startswith(module.__name__)
        ]
    return {name: getattr(module, name) for name in names if _documented(getattr(module, name))}


def _on_pages(obj: object, shown: set[str]) -> bool:
    """Whether the pages show ``obj`` (under any of its names, e.g. ``cat`` as ``concatenate``): a module
    as a page's ``::: path`` or heading, anything else as the heading ``<module>.<name>`` of a module
    that holds that very object under that name."""
    if isinstance(obj, ModuleType):
        return obj.__name__ in shown
    for path in shown:
        parent, _, name = path.rpartition(".")
        if getattr(_module(parent), name, None) is obj:
            return True
    return False


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def browser_check(site: Path) -> list[str]:
    """Open the built site from disk in Debian's Chromium (through Playwright, never `playwright install`):
    no page asks for anything outside the folder, no console errors, every image of a tutorial decodes, and
    the search finds "backpropagation" without a web server."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith(("file:", "data:", "blob:", "about:"))
                    else problems.append(f"request outside the folder: {r.url}")
                ),
            )
            for name in (
                "index.html",
                "tutorials/06_backpropagation.html",
                "gallery.html",
                "cli.html",
                "api/nn.html",
            ):
                page.goto((site / name).as_uri(), wait_until="load")
                broken = page.eval_on_selector_all(
                    "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
                )
                problems += [f"{name}: image does not load: {src[:80]}" for src in broken]
            page.goto((site / "tutorials" / "08_optimizers.html").as_uri(), wait_until="load")
            page.wait_for_timeout(500)
            if page.locator(".arithmatex .katex").count() < page.locator(".arithmatex").count() or not (
                page.locator(".arithmatex").count()
            ):
                problems.append("tutorial 8: formulas are not typeset by KaTeX")
            page.goto((site / "index.html").as_uri(), wait_until="load")
            page.wait_for_timeout(1000)  # the theme's scripts start
            page.keyboard.press("s")  # the theme's shortcut: focus the search box
            page.keyboard.type("backpropagation", delay=20)  # typed: the search listens to key events
            try:
                page.wait_for_selector(".md-search-result__item", timeout=15000)
            except Exception:  # reported as a problem of the site
                problems.append("search from disk found nothing for 'backpropagation'")
        finally:
            browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-execute", action="store_true", help="render the tutorials without outputs")
    parser.add_argument("--jobs", type=int, default=2, help="tutorials run at once (default 2)")
    parser.add_argument(
        "--browser-check", action="store_true", help="also open the site from disk in Chromium, if installed"
    )
    parser.add_argument("--check-only", action="store_true", help="only check an already built site")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    if not args.check_only:
        stage(execute=not args.no_execute, jobs=args.jobs)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        }
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(ROOT / "mkdocs.yml")],
            check=True,
            cwd=ROOT,
            env=env,
        )
    problems = check_site(SITE) + check_api_reference(SITE_SOURCES / "api", SITE)
    if args.browser_check:
        if shutil.which("chromium") is None:
            print("browser check skipped: Debian's chromium is not installed", file=sys.stderr)
        else:
            problems += browser_check(SITE)
    for problem in problems:
        print(f"site check: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problems in {SITE}", file=sys.stderr)
        return 1
    print(f"Site built and checked: open {SITE / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
