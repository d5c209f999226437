"""Commands: gateway (serve models over HTTP), keys (API keys), routes (challenger routing)."""

from __future__ import annotations

import argparse
import datetime as dt

from vigil.cli.command import Arguments, Command
from vigil.cli.commands.common import acting_user, add_actor_argument, print_json, store
from vigil.core.errors import VigilError
from vigil.core.govern import tokens
from vigil.core.results import to_jsonable
from vigil.core.serve import routing
from vigil.core.serve.routing import RouteMode


def _gateway_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--no-control", action="store_true",
        help="serve only: another gateway on the same store publishes state and ingests the spool",
    )  # fmt: skip


def cmd_gateway(args: argparse.Namespace) -> int:
    from vigil.gateway.server import ServerOptions, run  # FastAPI and uvicorn only when serving

    if args.workers < 1:
        raise VigilError("--workers must be at least 1.")
    return run(
        store(), ServerOptions(args.host, args.port, args.workers, control=not args.no_control)
    )


def _create_arguments(p: argparse.ArgumentParser) -> None:
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


def _list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="only keys scoped to this model")
    p.add_argument("--json", action="store_true")


def _revoke_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("key_id", help="the key id shown by `vigil keys list`")
    p.add_argument("--rationale", required=True)
    add_actor_argument(p)


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


def _route_arguments(mode: RouteMode) -> Arguments:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True)
        p.add_argument("--version", required=True, help="the challenger version")
        if mode is not RouteMode.SHADOW:
            p.add_argument("--share", type=float, required=True,
                           help="share of requests the challenger answers, e.g. 0.1")  # fmt: skip
        p.add_argument("--days", type=int, default=14, help="ends after this many days")
        p.add_argument("--rationale", required=True)
        p.add_argument("--json", action="store_true")
        add_actor_argument(p)

    return add


def _decide_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("route_id", type=int)
    p.add_argument("--rationale", required=True)
    add_actor_argument(p)


def _routes_list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model")
    p.add_argument("--json", action="store_true")


def _show_route(route: routing.Route) -> str:
    share = "" if route.mode is RouteMode.SHADOW else f" {route.share:.0%} of traffic,"
    return (
        f"#{route.route_id} {route.model_name} {route.model_version} {route.mode.value},{share} "
        f"{route.state.value}, ends {route.ends_at:%Y-%m-%d %H:%M} UTC"
    )


def cmd_route_request(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    mode = RouteMode(args.mode)
    ends_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) + dt.timedelta(
        days=args.days
    )
    route = routing.request_route(
        st, user, model_name=args.model, model_version=args.version, mode=mode,
        share=getattr(args, "share", 0.0), ends_at=ends_at, rationale=args.rationale,
    )  # fmt: skip
    if args.json:
        print_json(to_jsonable(route))
    else:
        print(_show_route(route))
        if route.state is routing.RouteState.PENDING:
            print(f"An approver other than you approves it: vigil routes approve {route.route_id}")
    return 0


def cmd_route_decide(args: argparse.Namespace) -> int:
    st = store()
    user = acting_user(args, st)
    if args.decision == "end":
        route = routing.end_route(st, user, args.route_id, args.rationale)
    else:
        route = routing.decide_route(
            st, user, args.route_id, approve=args.decision == "approve", rationale=args.rationale
        )
    print(_show_route(route))
    return 0


def cmd_routes_list(args: argparse.Namespace) -> int:
    routes = routing.list_routes(store(), args.model)
    if args.json:
        print_json(to_jsonable(routes))
    elif not routes:
        print("No routes: every request is answered by the champion alone.")
    else:
        for route in routes:
            print(_show_route(route))
    return 0


COMMANDS = (
    Command(
        "gateway",
        "serve each model's champion over HTTP (FastAPI, onnxruntime), logging every prediction",
        _gateway_arguments,
        cmd_gateway,
    ),
    Command(
        "routes",
        "challenger routing on the gateway: shadow, canary, A/B (four-eyes for the last two)",
        subcommands=(
            Command("list", "routes with their state", _routes_list_arguments, cmd_routes_list),
            *(
                Command(
                    mode.value,
                    help_text,
                    _route_arguments(mode),
                    cmd_route_request,
                    defaults=(("mode", mode.value),),
                )
                for mode, help_text in (
                    (
                        RouteMode.SHADOW,
                        "score a challenger beside the champion, never answer with it (analysts)",
                    ),
                    (
                        RouteMode.CANARY,
                        "ask for a challenger to answer a share of traffic (needs approval)",
                    ),
                    (
                        RouteMode.AB,
                        "ask for an A/B split between champion and challenger (needs approval)",
                    ),
                )
            ),
            *(
                Command(
                    name,
                    help_text,
                    _decide_arguments,
                    cmd_route_decide,
                    defaults=(("decision", name),),
                )
                for name, help_text in (
                    (
                        "approve",
                        "approve a pending canary or A/B (an approver other than the asker)",
                    ),
                    ("refuse", "refuse a pending canary or A/B"),
                    ("end", "end a route now"),
                )
            ),
        ),
    ),
    Command(
        "keys",
        "API keys of service accounts (gateway and ingest pipelines)",
        subcommands=(
            Command(
                "create",
                "issue a key (admins); the secret is shown once",
                _create_arguments,
                cmd_keys_create,
            ),
            Command("list", "keys with status; never a secret", _list_arguments, cmd_keys_list),
            Command("revoke", "revoke a key for good (admins)", _revoke_arguments, cmd_keys_revoke),
        ),
    ),
)
