"""Commands: gateway (serve models over HTTP), keys (API keys), routes (challenger routing)."""

from __future__ import annotations

import argparse

from vigil.cli.commands.common import acting_user, add_actor_argument, print_json, store
from vigil.core.govern import tokens
from vigil.core.results import to_jsonable


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_keys(subparsers)


def _add_keys(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = subparsers.add_parser(
        "keys", help="API keys of service accounts (gateway and ingest pipelines)"
    ).add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    p = keys.add_parser("create", help="issue a key (admins); the secret is shown once")
    p.add_argument("--model", required=True, help="the model the key is scoped to")
    p.add_argument(
        "--scope", action="append", choices=tokens.SCOPE_KINDS,
        help="predict (call the gateway) or ingest (send logs and labels); repeatable; "
        "default predict",
    )  # fmt: skip
    p.add_argument("--account", help="service account name (default <model>-app)")
    p.add_argument("--expires-days", type=int, help="days until it expires (default 90)")
    p.add_argument("--rationale", required=True, help="why the key is needed (audited)")
    p.add_argument("--json", action="store_true")
    add_actor_argument(p)
    p.set_defaults(handler=cmd_keys_create)
    p = keys.add_parser("list", help="keys with status; never a secret")
    p.add_argument("--model", help="only keys scoped to this model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_keys_list)
    p = keys.add_parser("revoke", help="revoke a key for good (admins)")
    p.add_argument("key_id", help="the key id shown by `vigil keys list`")
    p.add_argument("--rationale", required=True)
    add_actor_argument(p)
    p.set_defaults(handler=cmd_keys_revoke)


def _account_for(model: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in model.lower())
    return f"{cleaned}-app" if cleaned[:1].isalpha() else f"app-{cleaned}"


def cmd_keys_create(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    issued = tokens.create_key(
        st,
        user,
        account=args.account or _account_for(args.model),
        scopes=tuple(tokens.scope_for(k, args.model) for k in (args.scope or ["predict"])),
        expires_days=args.expires_days,
        rationale=args.rationale,
    )
    if args.json:
        print_json(to_jsonable(issued))
        return 0
    print(f"API key {issued.key_id} for {issued.account} ({', '.join(issued.scopes)}),")
    print(f"expires {issued.expires_at:%Y-%m-%d %H:%M} UTC. Copy it now; it is not shown again:")
    print(issued.token)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    infos = tokens.list_keys(store(), args.model)
    if args.json:
        print_json(to_jsonable(infos))
    elif not infos:
        print("No API keys. Create one with `vigil keys create --model M --user ADMIN ...`.")
    else:
        print(f"{'key id':<18}{'account':<22}{'status':<9}{'expires (UTC)':<18}scopes")
        for i in infos:
            print(
                f"{i.key_id:<18}{i.account:<22}{i.status.value:<9}"
                f"{i.expires_at:%Y-%m-%d %H:%M}  {', '.join(i.scopes)}"
            )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    info = tokens.revoke_key(st, user, args.key_id, args.rationale)
    print(f"Revoked API key {info.key_id} of {info.account}.")
    return 0
