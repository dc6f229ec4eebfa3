"""`recodb train` and `recodb models …`: training and the model registry."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.table import Table

from recodb.cli.common import console, migrated_database, parse_time, progress
from recodb.errors import RecodbError

app = typer.Typer()
models = typer.Typer(help="The model registry: list, activate, roll back, prune.")


@app.command("train")
def train_command(
    algorithm: Annotated[str, typer.Option(help="als (default) or bpr.")] = "als",
    factors: Annotated[int | None, typer.Option(min=1, help="Vector dimensions.")] = None,
    regularization: Annotated[float | None, typer.Option(min=0)] = None,
    alpha: Annotated[float | None, typer.Option(min=0, help="ALS confidence scale.")] = None,
    iterations: Annotated[int | None, typer.Option(min=1)] = None,
    learning_rate: Annotated[float | None, typer.Option(min=0, help="BPR only.")] = None,
    content_dims: Annotated[
        int | None, typer.Option(min=0, help="Dimensions of the text vectors (0: none).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same data and seed, same model.")] = 42,
    half_life: Annotated[
        str | None,
        typer.Option(
            "--half-life",
            help="Training half-life in days, or none (default: setting training_half_life_days).",
        ),
    ] = None,
    tune: Annotated[
        bool,
        typer.Option("--tune", help="Search hyperparameters (Optuna TPE) on the validation split."),
    ] = False,
    trials: Annotated[
        int, typer.Option(min=2, help="Parameter sets tried by --tune (at most).")
    ] = 200,  # tuning.DEFAULT_TRIALS (not imported here: the CLI starts without numpy)
    tune_minutes: Annotated[
        float, typer.Option(min=0.1, help="Time budget of --tune, in minutes.")
    ] = 5.0,
    validation: Annotated[
        str,
        typer.Option(
            "--validation",
            help="Held-out split: user-latest (each user's latest posts), time (the last tenth "
            "of the window) or random.",
        ),
    ] = "user-latest",
    learn_blend: Annotated[
        bool, typer.Option(help="Learn the blend of score parts on the validation split.")
    ] = True,
    validate: Annotated[
        bool,
        typer.Option(
            help="Score the parameters on a held-out split first (an ALS fit then starts from "
            "that fit's vectors, with 0.4 of the iterations)."
        ),
    ] = True,
    activate: Annotated[bool, typer.Option(help="Activate the new version when done.")] = True,
    since: Annotated[str | None, typer.Option(help="Train on interactions from this time.")] = None,
    until: Annotated[str | None, typer.Option(help="…and before this time.")] = None,
) -> None:
    """Train user and post vectors into a new model version, index them, and activate it."""
    from recodb.training.fit import Params
    from recodb.training.train import train
    from recodb.training.validation import PROTOCOLS

    if validation not in PROTOCOLS:
        raise RecodbError(f"--validation must be one of {', '.join(PROTOCOLS)}, got {validation!r}")
    given = {
        "factors": factors,
        "regularization": regularization,
        "alpha": alpha,
        "iterations": iterations,
        "learning_rate": learning_rate,
        "content_dims": content_dims,
    }
    try:
        if half_life is not None:
            given["half_life_days"] = (
                math.inf if half_life.strip().lower() == "none" else float(half_life)
            )
        params = Params(
            algorithm=algorithm, seed=seed, **{k: v for k, v in given.items() if v is not None}
        )
    except ValueError as exc:
        raise RecodbError(str(exc)) from exc
    target = migrated_database()
    window = parse_time(since, "--since"), parse_time(until, "--until")
    with target.connect(autocommit=True) as conn, progress("training") as step:

        def on_step(what: str) -> None:
            if what.startswith("trial "):
                step.note(f"  {what}")
            step(what)

        result = train(
            conn,
            params,
            since=window[0],
            until=window[1],
            tune_trials=trials if tune else 0,
            tune_minutes=tune_minutes,
            validation_protocol=validation,
            learn_blend=learn_blend,
            validate=validate,
            activate=activate,
            on_step=on_step,
        )
    table = Table(title=f"model version {result.version}", show_header=True)
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for name, seconds in result.timings.items():
        if isinstance(seconds, dict):  # the steps of a step, indented under it
            for part, part_seconds in seconds.items():
                table.add_row(f"  {part}", f"{part_seconds:.2f}")
        elif name != "peak_rss_mb":
            table.add_row(name, f"{seconds:.2f}")
    console.print(table)
    shown = {k: v for k, v in result.metrics.items() if "@" in k}
    if shown:
        console.print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))
    console.print(
        f"version {result.version} {'active' if result.activated else 'ready'}; "
        f"peak memory {result.timings.get('peak_rss_mb')} MB"
    )


@models.command("list")
def models_list() -> None:
    """The registered model versions, newest first."""
    from recodb.training import registry

    target = migrated_database()
    with target.connect() as conn:
        rows = registry.list_versions(conn)
    if not rows:
        console.print("no models yet: run `recodb train`")
        return
    short = {"factors": "f", "regularization": "λ", "alpha": "α", "iterations": "it",
             "learning_rate": "lr"}  # fmt: skip
    table = Table()
    for column in ("version", "status", "model", "trained on", "ndcg@10", "created", "s"):
        table.add_column(
            column, justify="right" if column in ("version", "ndcg@10", "s") else "left"
        )
    for r in rows:
        model = (
            r["algorithm"]
            + " "
            + " ".join(f"{short[k]}{v:g}" for k, v in r["params"].items() if k in short)
        )
        data = (
            f"{r['n_users']:,}×{r['n_posts']:,}, {r['n_interactions']:,}"
            if r["n_users"] is not None
            else (r["error"] or "")[:40]
        )
        ndcg = r["metrics"].get("ndcg@10")
        table.add_row(
            str(r["version"]),
            ("[bold green]active[/]" if r["status"] == "active" else r["status"])
            + (" (tuned)" if r["tuned"] else ""),
            model,
            data,
            f"{ndcg:.4f}" if ndcg is not None else "",
            r["created_at"].strftime("%m-%d %H:%M"),
            f"{r['timings']['total']:.0f}" if "total" in r["timings"] else "",
        )
    console.print(table)


@models.command("activate")
def models_activate(version: Annotated[int, typer.Argument(help="Version to activate.")]) -> None:
    """Make VERSION the active model, atomically (readers never see a mixture)."""
    from recodb.training import registry

    if not 1 <= version <= 2**31 - 1:  # versions are integer (int4) identities
        raise RecodbError(f"VERSION must be between 1 and {2**31 - 1}, got {version}")
    target = migrated_database()
    with target.connect(autocommit=True) as conn:
        registry.activate(conn, version)
    console.print(f"version {version} is active")


@models.command("rollback")
def models_rollback() -> None:
    """Re-activate the version that was active before the current one."""
    from recodb.training import registry

    target = migrated_database()
    with target.connect(autocommit=True) as conn:
        version = registry.rollback(conn)
    console.print(f"rolled back: version {version} is active")


@models.command("prune")
def models_prune(
    keep: Annotated[
        int | None, typer.Option(min=0, help="Inactive versions to keep (default: setting).")
    ] = None,
) -> None:
    """Drop old versions' vectors beyond the newest KEEP inactive ones."""
    from recodb.training import registry

    target = migrated_database()
    with target.connect(autocommit=True) as conn:
        removed = registry.prune(conn, keep)
    console.print(f"removed versions {removed}" if removed else "nothing to prune")
