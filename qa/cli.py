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
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@friendly_errors
def ask(
    question: str,
    store: Path | None,
    backend: str | None,
    k: int | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Answer QUESTION (Indonesian or English) from the ingested articles."""
    from qa.pipeline import AnswerEvent, QAService, TokenEvent

    service = QAService(_settings(store, backend=backend))
    final = None
    streamed = False
    for event in service.stream(question, k=k, since=since, until=until):
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
@friendly_errors
def serve(host: str | None, port: int | None, store: Path | None, auth: str | None) -> None:
    """Start the web chat (Gradio) with the /ask API."""
    from ui.app import serve as serve_app

    serve_app(_settings(store, host=host, port=port, auth=auth))


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
    """Measure retrieval and answer quality on a question set (see shared/data/README.md).

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


if __name__ == "__main__":
    main()
