"""The ``newsqa`` command line: ingest, ask, serve, eval, stats.

Every expected failure (bad question, missing store, dead server, model mismatch) is caught here and printed
as one line on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from qa.settings import Settings, get_settings

F = TypeVar("F", bound=Callable[..., Any])


def _settings(store: Path | None, **overrides: Any) -> Settings:
    base = get_settings()
    update = {k: v for k, v in overrides.items() if v is not None}
    if store is not None:
        update["store"] = store
    return base.model_copy(update=update) if update else base


def friendly_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from qa.backends.base import BackendError
        from qa.pipeline import QuestionError
        from vectorstore.store import StoreError

        try:
            return func(*args, **kwargs)
        except (QuestionError, StoreError, BackendError, OSError, ValueError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


store_option = click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=None,
    help="Store folder (default: $NEWSQA_STORE or .newsqa/store)",
)


@click.group()
@click.version_option(package_name="newsqa")
def main() -> None:
    """Bilingual (Indonesian/English) question answering over news articles, with cited sources."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@store_option
@click.option("--prune", is_flag=True, help="Remove articles that are not in the given paths.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def ingest(paths: tuple[Path, ...], store: Path | None, prune: bool, quiet: bool) -> None:
    """Ingest articles (folders, .txt/.md/.html files, .jsonl corpora) into the store."""
    from vectorstore.service import ingest_paths

    s = _settings(store)
    report = ingest_paths(s, list(paths), prune=prune, progress=not quiet)
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.source}: {skipped.reason}", err=True)
    for doc_id, story_id in report.near_duplicates:
        click.echo(f"near-duplicate: {doc_id} tells the same story as {story_id}")
    click.echo(report.summary())


@main.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def stats(store: Path | None, as_json: bool) -> None:
    """Show what the store holds."""
    from vectorstore.service import store_stats

    info = store_stats(_settings(store))
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key:>16}: {value}")


@main.command()
@click.argument("question")
@store_option
@click.option("--backend", type=click.Choice(["auto", "extractive", "llamacpp", "openai"]), default=None)
@click.option("--k", type=int, default=None, help="Number of passages to retrieve.")
@click.option("--since", default=None, help="Only articles published on/after this ISO date.")
@click.option("--until", default=None, help="Only articles published on/before this ISO date.")
@click.option("--outlet", "outlets", multiple=True, help="Only articles from this outlet (repeatable).")
@click.option("--as-of", default=None, help="ISO day that 'yesterday', 'pekan lalu' ... count from.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@friendly_errors
def ask(
    question: str,
    store: Path | None,
    backend: str | None,
    k: int | None,
    since: str | None,
    until: str | None,
    outlets: tuple[str, ...],
    as_of: str | None,
    as_json: bool,
) -> None:
    """Answer QUESTION (Indonesian or English) from the ingested articles.

    Dates in the question ("pada 29 November 2024", "last week") limit the articles by themselves;
    --since/--until set the range explicitly. "How did X develop?" gets a dated timeline.
    """
    from qa.pipeline import AnswerEvent, QAService, TokenEvent

    service = QAService(_settings(store, backend=backend))
    final = None
    streamed = False
    for event in service.stream(question, k=k, since=since, until=until, outlets=outlets, as_of=as_of):
        if isinstance(event, TokenEvent) and not as_json and sys.stdout.isatty():
            click.echo(event.text, nl=False)
            streamed = True
        elif isinstance(event, AnswerEvent):
            final = event.answer
    assert final is not None
    if as_json:
        click.echo(json.dumps(final.to_dict(), ensure_ascii=False, indent=2))
        return
    if streamed:
        click.echo("\n")
    if final.notice:
        click.echo(f"note: {final.notice}", err=True)
    click.echo(final.text)
    refs = final.citations or final.related
    if refs:
        click.echo("\nSources:" if final.citations else "\nRelated passages:")
    for c in refs:
        where = ", ".join(x for x in (c.outlet, c.published) if x)
        click.echo(f"[{c.n}] {c.title}{f' ({where})' if where else ''} — {c.doc_id}:{c.start}-{c.end}")
        click.echo(f"    «{c.quote}»")


@main.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", type=int, default=None)
@store_option
@click.option("--auth", default=None, help="user:pass for basic auth (or NEWSQA_AUTH).")
@click.option("--api-key", default=None, help="Bearer key of the /v1 API (or NEWSQA_API_KEY).")
@friendly_errors
def serve(
    host: str | None, port: int | None, store: Path | None, auth: str | None, api_key: str | None
) -> None:
    """Start the web chat (Gradio) with the /ask API and the OpenAI-compatible /v1 API."""
    from ui.app import serve as serve_app

    serve_app(_settings(store, host=host, port=port, auth=auth, api_key=api_key))


@main.command(name="eval")
@click.argument("questions", metavar="SET", type=click.Path(exists=True, path_type=Path))
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), default=None)
@store_option
@click.option("--backend", type=click.Choice(["auto", "extractive", "llamacpp", "openai"]), default=None)
@click.option("--retrieval-only", is_flag=True, help="Skip generation; report retrieval metrics only.")
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option(
    "--split",
    type=click.Choice(["tune", "report"]),
    default=None,
    help="Only the questions of this fixed half of the set (sha1 of the id; docs/benchmarks.md).",
)
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Write metrics here.")
@friendly_errors
def eval_command(
    questions: Path,
    corpus: Path | None,
    store: Path | None,
    backend: str | None,
    retrieval_only: bool,
    limit: int | None,
    split: str | None,
    json_out: Path | None,
) -> None:
    """Measure retrieval and answer quality on a question set (see data/eval/README.md).

    SET is the set's folder (questions.jsonl, and corpus.jsonl when it has its own documents) or its
    questions file; a set without a corpus is asked of the store.
    """
    from qa.evaluation import format_table, question_set, run_eval

    s = _settings(store, backend=backend)
    questions, corpus = question_set(questions, corpus)
    result = run_eval(
        s,
        questions,
        corpus=corpus,
        retrieval_only=retrieval_only,
        limit=limit,
        split=split,  # type: ignore[arg-type]
    )
    click.echo(format_table(result))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        click.echo(f"wrote {json_out}")


def _chat_store(db: Path | None) -> Any:
    from qa.chats import ChatStore

    path = db or get_settings().chats_path
    if not path.exists():
        raise ValueError(f"no saved chats at {path} (set NEWSQA_CHATS_DB or pass --db)")
    return ChatStore(path)


db_option = click.option(
    "--db",
    type=click.Path(path_type=Path),
    default=None,
    help="Saved-chats file (default: $NEWSQA_CHATS_DB or chats.sqlite3 beside the store)",
)


def chat_errors(func: F) -> F:
    """An unknown chat id is one line on stderr and exit 2, like every other expected failure."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from qa.chats import ChatNotFoundError

        try:
            return func(*args, **kwargs)
        except ChatNotFoundError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@main.group()
def chats() -> None:
    """Saved chats of the web chat: list, show, export, delete."""


@chats.command(name="list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@friendly_errors
def chats_list(db: Path | None, as_json: bool) -> None:
    """Every saved chat (all users), newest first."""
    from dataclasses import asdict
    from datetime import datetime

    items = _chat_store(db).list(None)
    if as_json:
        click.echo(json.dumps([asdict(c) for c in items], ensure_ascii=False, indent=2))
        return
    for c in items:
        when = datetime.fromtimestamp(c.updated).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{c.id}  {when}  {c.turns:>3} answers  {c.title}")
    if not items:
        click.echo("no saved chats")


@chats.command(name="show")
@click.argument("chat_id")
@db_option
@friendly_errors
@chat_errors
def chats_show(chat_id: str, db: Path | None) -> None:
    """Print a chat as Markdown: each answer with its numbered sources."""
    from qa.chat_export import chat_markdown

    click.echo(chat_markdown(_chat_store(db).get(chat_id)), nl=False)


@chats.command(name="export")
@click.argument("chat_id")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@db_option
@friendly_errors
@chat_errors
def chats_export(chat_id: str, out: Path, fmt: str, db: Path | None) -> None:
    """Write a chat to OUT as Markdown or JSON."""
    from qa.chat_export import chat_json, chat_markdown

    chat = _chat_store(db).get(chat_id)
    text = chat_markdown(chat) if fmt == "md" else json.dumps(chat_json(chat), ensure_ascii=False, indent=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")


@chats.command(name="delete")
@click.argument("chat_ids", metavar="CHAT_ID...", nargs=-1, required=True)
@db_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@friendly_errors
@chat_errors
def chats_delete(chat_ids: tuple[str, ...], db: Path | None, yes: bool) -> None:
    """Delete chats with their answers and feedback."""
    store = _chat_store(db)
    if not yes and sys.stdin.isatty():
        click.confirm(f"Delete {len(chat_ids)} chat(s): {', '.join(chat_ids)}?", abort=True)
    for chat_id in chat_ids:
        store.delete(chat_id)
        click.echo(f"deleted {chat_id}")


@main.group()
def feedback() -> None:
    """Readers' thumbs up/down on answers."""


@feedback.command(name="export")
@click.argument("out", type=click.Path(path_type=Path))
@db_option
@friendly_errors
def feedback_export(out: Path, db: Path | None) -> None:
    """Write rated answers to OUT (JSONL) in the question-set format of data/eval/README.md.

    A thumbs-up keeps the answer as expected (cited articles gold); a thumbs-down is written with no answer
    and "review": true, its comment kept, for a person to complete before it joins an eval set.
    """
    from qa.chat_export import feedback_question

    items = _chat_store(db).feedback()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(feedback_question(item), ensure_ascii=False) + "\n")
    down = sum(1 for i in items if i.rating < 0)
    click.echo(f"wrote {len(items)} rated answers ({down} to review) to {out}")


@main.group()
def articles() -> None:
    """List or delete the stored articles."""


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@articles.command(name="list")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of articles.")
@friendly_errors
def articles_list(store: Path | None, as_json: bool) -> None:
    """List the stored articles, newest first (story: the article it is a near-duplicate of)."""
    from vectorstore.service import list_articles

    items = list_articles(_settings(store))
    if as_json:
        click.echo(json.dumps([a.to_dict() for a in items], ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no articles in the store")
        return
    rows = [
        (
            a.doc_id,
            a.published[:10] or "-",
            _clip(a.outlet, 20) or "-",
            str(a.chunks),
            "-" if a.story_id in ("", a.doc_id) else a.story_id,
            _clip(a.title, 60) or "(untitled)",
        )
        for a in items
    ]
    header = ("id", "date", "outlet", "chunks", "story", "title")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        pairs = zip(row[:-1], widths, strict=True)
        cells = [c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(pairs)]
        click.echo("  ".join([*cells, row[-1]]))
    click.echo(f"\n{len(items)} articles, {sum(a.chunks for a in items)} chunks")


@articles.command(name="delete")
@click.argument("ids", metavar="ID...", nargs=-1, required=True)
@store_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@friendly_errors
def articles_delete(ids: tuple[str, ...], store: Path | None, yes: bool) -> None:
    """Delete articles (and all their chunks) by id; exits 1 when an id was not in the store."""
    from vectorstore.service import delete_articles

    s = _settings(store)
    if not yes and sys.stdin.isatty():
        click.confirm(f"Delete {len(ids)} article(s) and their chunks: {', '.join(ids)}?", abort=True)
    report = delete_articles(s, ids)
    for doc_id in report.deleted:
        click.echo(f"deleted {doc_id}")
    for doc_id in report.missing:
        click.echo(f"not in the store: {doc_id}", err=True)
    click.echo(f"{len(report.deleted)} article(s) and {report.chunks} chunk(s) deleted")
    if report.missing:
        sys.exit(1)


if __name__ == "__main__":
    main()
