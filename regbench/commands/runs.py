"""``regbench runs rm --regularizer NAME [--stale]``: remove a regularizer's runs from a store.

With ``--stale``, only the runs whose plugin code is no longer the code on disk: an edited
plugin has new run keys (its code hash is part of them), so its old runs are never reused,
but they stay in the store until removed here.
"""

from __future__ import annotations

from regbench.commands.options import add_store


def add_parser(sub) -> None:
    r = sub.add_parser("runs", help="manage the runs in a store (remove a regularizer's runs)")
    rsub = r.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    rm = rsub.add_parser("rm", help="remove a regularizer's runs (all, or only stale ones with --stale)")
    rm.add_argument("--regularizer", required=True, metavar="NAME", help="the regularizer's row name in the store")
    rm.add_argument("--stale", action="store_true", help="only runs recorded with another version of its code")
    rm.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    add_store(rm)


def stale_reason(entries: list[dict]) -> str | None:
    """Why a run of these regularizer entries (its spec's ``regularizer`` list) is stale, or None.

    A member is stale when its code identity today differs from the recorded one (a plugin
    recorded before code hashing has none), or when it cannot be loaded any more.
    """
    from regbench.registry import UserError
    from regbench.regularizers.build import lookup
    from regbench.regularizers.plugins import code_identity

    for entry in entries:
        name = entry["name"]
        try:
            current = code_identity(lookup(name), name)
        except (UserError, ImportError) as err:
            return f"'{name}' no longer loads ({err})"
        if current != entry.get("code"):
            return f"'{name}' was recorded with code {entry.get('code') or 'unknown'}, is now {current}"
    return None


def run(args) -> int:
    from regbench.config import ConfigError
    from regbench.store import Store

    store = Store(args.store, readonly=args.dry_run)
    runs = [r for r in store.records() if r["regularizer"] == args.regularizer]
    if not runs:
        known = sorted({r["regularizer"] for r in store.records()})
        raise ConfigError(
            f"no runs of regularizer '{args.regularizer}' in {args.store} (it holds: {', '.join(known) or 'none'})"
        )
    if args.stale:
        reasons = {r["run_key"]: stale_reason((r["spec"] or {}).get("regularizer", [])) for r in runs}
        doomed = [k for k, why in reasons.items() if why]
        for why in sorted({w for w in reasons.values() if w}):
            print(f"stale: {why}")
    else:
        doomed = [r["run_key"] for r in runs]
    verb = "would remove" if args.dry_run else "removed"
    removed = len(doomed) if args.dry_run else store.remove_runs(doomed)
    print(f"{verb} {removed} of {len(runs)} runs of '{args.regularizer}' from {args.store}")
    return 0
