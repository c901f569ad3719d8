"""The command line: afinitwin-appliance [--config PATH] COMMAND ...

Scripts drive these commands, so each one exits non-zero with a one-line
`error: ...` on failure, `--quiet` prints only the value a script wants (an
id, a key) on one line, and every `list` accepts `--json`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__, admins, audit, config, keys, logs, manage, owners, webhooks
from .api import Api, summary
from .clock import SystemClock, parse_instant, rfc3339
from .errors import DomainError, SnapshotInvalid
from .storage import Storage

CLOCK = SystemClock()
DEMO_OWNER = "usr_demo"
DEMO_CONFIG = "appliance.toml"


class CliError(DomainError):
    pass


def _instant(text: str) -> int:
    try:
        return int(parse_instant(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="afinitwin-appliance",
        description="The AfiniTwin B2B API v1, self-hosted.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=os.environ.get("AFINITWIN_CONFIG") or None,
        help="TOML configuration file (default: $AFINITWIN_CONFIG, else built-in"
        " defaults with the database in the current folder)",
    )
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("init", help="create the database from the configuration")
    serve = commands.add_parser("serve", help="run the API on Waitress")
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=_count, help="override server.port")
    demo = commands.add_parser(
        "demo", help="run on a demo database with a sample twin and a printed key"
    )
    demo.add_argument(
        "--dir",
        default="afinitwin-demo",
        help="folder for the demo database (default: ./afinitwin-demo)",
    )
    demo.add_argument("--port", type=_count, help="port to listen on (default 8080)")
    demo.add_argument(
        "--no-serve",
        action="store_true",
        help="prepare the demo database and exit without serving",
    )
    commands.add_parser("check", help="validate the configuration and the database")

    owner = commands.add_parser("owner", help="manage owners and their plans")
    owner_cmds = owner.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = owner_cmds.add_parser("add", help="add an owner; prints its id")
    add.add_argument("--name", required=True)
    _plan_arguments(add, plan_required=False)
    add.add_argument("--quiet", action="store_true", help="print only the owner id")
    listing = owner_cmds.add_parser("list", help="list owners")
    listing.add_argument("--json", action="store_true")
    set_plan = owner_cmds.add_parser("set-plan", help="change an owner's plan")
    set_plan.add_argument("owner_id", metavar="ID")
    _plan_arguments(set_plan, plan_required=True)

    snapshot = commands.add_parser("snapshot", help="import and list snapshots")
    snap_cmds = snapshot.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = snap_cmds.add_parser("import", help="import a JSON or YAML snapshot document")
    imp.add_argument("--owner", required=True, metavar="ID")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--quiet", action="store_true", help="print only the snapshot id")
    slist = snap_cmds.add_parser("list", help="list snapshots")
    slist.add_argument("--owner", metavar="ID", help="only this owner's snapshots")
    slist.add_argument("--json", action="store_true")

    key = commands.add_parser("key", help="create, list and revoke API keys")
    key_cmds = key.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = key_cmds.add_parser("create", help="create a key; prints it once")
    create.add_argument("--owner", required=True, metavar="ID")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--quota", type=_count, help="monthly quota (default from config)"
    )
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="extra scope, e.g. twin:write (twin:read is always given)",
    )
    create.add_argument(
        "--expires",
        type=_instant,
        metavar="DATE",
        help="expiry, YYYY-MM-DD (midnight UTC) or an RFC 3339 instant",
    )
    create.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="CIDR",
        help="allowed client network; repeat for several",
    )
    create.add_argument("--quiet", action="store_true", help="print only the key")
    klist = key_cmds.add_parser("list", help="list keys (never their secrets)")
    klist.add_argument("--owner", metavar="ID")
    klist.add_argument("--json", action="store_true")
    revoke = key_cmds.add_parser("revoke", help="revoke a key by its key id")
    revoke.add_argument("key_id", metavar="KEY_ID")
    quota_cmd = key_cmds.add_parser("set-quota", help="change a key's monthly quota")
    quota_cmd.add_argument("key_id", metavar="KEY_ID")
    quota_cmd.add_argument("quota", type=_count, metavar="N")

    admin = commands.add_parser("admin", help="manage the admin page's accounts")
    admin_cmds = admin.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("add", "add an admin account"),
        ("passwd", "set an admin's password; ends its sessions"),
    ):
        account = admin_cmds.add_parser(action, help=text)
        account.add_argument("name", metavar="NAME")
        account.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard"
            " input instead of asking twice",
        )
    alist = admin_cmds.add_parser("list", help="list admin accounts")
    alist.add_argument("--json", action="store_true")

    hook = commands.add_parser(
        "webhook", help="manage webhook endpoints and deliveries"
    )
    hook_cmds = hook.add_subparsers(dest="action", metavar="ACTION", required=True)
    hadd = hook_cmds.add_parser("add", help="add an endpoint; prints its secret once")
    hadd.add_argument("--owner", required=True, metavar="ID")
    hadd.add_argument("--url", required=True, help="http:// or https:// URL")
    hadd.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="EVENT",
        help="subscribe to this event only; repeat for several"
        " (default: every event)",
    )
    hadd.add_argument(
        "--quiet",
        action="store_true",
        help="print the endpoint id on one line and the secret" " on the next",
    )
    hlist = hook_cmds.add_parser("list", help="list endpoints (never their secrets)")
    hlist.add_argument("--owner", metavar="ID")
    hlist.add_argument("--json", action="store_true")
    for action, text in (
        ("remove", "delete an endpoint and its deliveries"),
        ("test", "send a twin.test delivery to an endpoint"),
        ("enable", "resume deliveries to an endpoint"),
        ("disable", "stop deliveries to an endpoint"),
    ):
        hook_cmds.add_parser(action, help=text).add_argument(
            "endpoint_id", metavar="ENDPOINT_ID"
        )
    hdel = hook_cmds.add_parser(
        "deliveries", help="list recent deliveries, newest first"
    )
    hdel.add_argument("--endpoint", metavar="ID", help="only this endpoint's")
    hdel.add_argument(
        "--json", action="store_true", help="with each delivery's attempts"
    )
    return parser


def _plan_arguments(parser: argparse.ArgumentParser, plan_required: bool) -> None:
    parser.add_argument(
        "--plan", required=plan_required, default="professional", choices=owners.PLANS
    )
    parser.add_argument("--status", default="active", choices=owners.STATUSES)
    parser.add_argument(
        "--source", default=None if plan_required else "manual", choices=owners.SOURCES
    )
    parser.add_argument(
        "--until",
        type=_instant,
        metavar="DATE",
        help="plan active until, YYYY-MM-DD or an RFC 3339 instant",
    )


def version_text() -> str:
    commit = ""
    try:
        commit = (
            resources.files(__package__).joinpath("BUILD_COMMIT").read_text().strip()
        )
    except (FileNotFoundError, OSError):
        commit = "source"
    return f"afinitwin-appliance {__version__} ({commit})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = config.load(args.config)
        logs.configure(settings.log_level, settings.log_format)
        handler = HANDLERS[(args.command, getattr(args, "action", None))]
        return handler(args, settings) or 0
    except SnapshotInvalid as exc:
        count = len(exc.problems)
        print(
            f"error: the snapshot was refused ({count} problem{'s' * (count != 1)}):",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `... --json | head` closed our output early: not an error of ours.
        sys.stdout = open(os.devnull, "w")
        return 0


def _storage(settings: config.Settings, create: bool = False) -> Storage:
    return Storage(settings.database, settings.busy_timeout_ms).open(create=create)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def cmd_init(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings, create=True)
    print(
        f"database ready at {storage.path} (schema version {storage.schema_version()})"
    )
    return 0


def cmd_check(args: argparse.Namespace, settings: config.Settings) -> int:
    print(f"configuration: ok ({settings.source or 'built-in defaults'})")
    # Read only: a check must not create, migrate or otherwise change anything.
    storage = Storage(settings.database, settings.busy_timeout_ms, readonly=True).open(
        create=False
    )
    pending = storage.pending_migrations()
    if pending:
        print(
            f"error: database {storage.path} lacks {len(pending)} schema"
            f" migration(s) ({', '.join(pending)}); run 'init' or 'serve' to apply"
            " them",
            file=sys.stderr,
        )
        return 1
    result = storage.integrity_check()
    if result != ["ok"]:
        print(
            f"error: database {storage.path} failed its integrity check:",
            file=sys.stderr,
        )
        for line in result:
            print(f"  - {line}", file=sys.stderr)
        return 1
    print(f"database: ok ({storage.path}, schema version {storage.schema_version()})")
    return 0


def cmd_serve(
    args: argparse.Namespace,
    settings: config.Settings,
    announce: Callable[[], None] | None = None,
) -> int:
    from .delivery import Sender
    from .server import Server

    storage = _storage(settings, create=True)
    if storage.mirror_problem:
        # Without the mirror, changes made by the command line would not be
        # seen on the very next request; better not to start.
        raise CliError(f"cannot serve: {storage.mirror_problem}")
    api = Api(storage, settings, CLOCK)
    host = args.host if getattr(args, "host", None) else settings.host
    port = args.port if getattr(args, "port", None) is not None else settings.port
    try:
        server = Server(api, host, port, settings.threads)
    except OSError as exc:
        raise CliError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    sender = Sender(storage, CLOCK)
    server.background.append(sender)
    server.install_signal_handlers()
    sender.start()
    if announce:
        announce()
    for address in server.addresses:
        print(f"serving on http://{address[0]}:{address[1]}/v1/public/twin", flush=True)
    server.serve_forever()
    storage.close()
    return 0


def _port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As Waitress binds: connections of a server that just stopped may
        # linger in TIME_WAIT without making the port busy; a live listener
        # still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CliError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc};"
                " choose another with --port"
            ) from None


def cmd_demo(args: argparse.Namespace, settings: config.Settings) -> int:
    if not args.no_serve:
        _port_free("127.0.0.1", args.port if args.port is not None else 8080)
    folder = Path(args.dir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / DEMO_CONFIG
    if not config_path.exists():
        config_path.write_text(
            "# Written by `afinitwin-appliance demo`; see config.example.toml.\n"
            '[storage]\ndatabase = "afinitwin.db"\n',
            encoding="utf-8",
        )
    settings = config.load(config_path)
    storage = _storage(settings, create=True)
    base = f"afinitwin-appliance --config {config_path}"
    if storage.get_owner(DEMO_OWNER) is None:
        manage.add_owner(storage, CLOCK, "Demo owner", owner_id=DEMO_OWNER)
        data = (
            resources.files(__package__)
            .joinpath("demo/demo-snapshot.yaml")
            .read_bytes()
        )
        imported = manage.import_snapshot(storage, CLOCK, DEMO_OWNER, data, "demo.yaml")
        created = manage.create_key(
            storage,
            CLOCK,
            DEMO_OWNER,
            "demo",
            scopes=["twin:write"],
            default_monthly=settings.default_monthly,
        )
        print(f"Demo database created at {storage.path}")
        print(f"Demo owner {DEMO_OWNER}, snapshot {imported.record.snapshot_id}.")
        print("Your demo API key (shown once, it is not stored anywhere):")
        print(f"\n    {created.plaintext}\n")
    else:
        print(f"Reusing the demo database at {storage.path}.")
        print("Its key was shown only when it was created. For a new one:")
        print(
            f"\n    {base} key create --owner {DEMO_OWNER} --name demo"
            " --scope twin:write\n"
        )
    port = args.port if args.port is not None else settings.port
    print(
        f'Try: curl -H "X-Twin-Key: <key>" '
        f'"http://127.0.0.1:{port}/v1/public/twin/preset/estandar?format=md"'
    )
    if args.no_serve:
        return 0
    args.host = None
    args.port = port
    return cmd_serve(args, settings)


def _audit(storage: Storage, action: str, target: str, **details: Any) -> None:
    """Changes made here land in the same audit log as the admin page's."""
    audit.record(
        storage, CLOCK, _operator(), action, target, audit.CLI_ADDRESS, details
    )


def cmd_owner_add(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings, create=True)
    owner = manage.add_owner(
        storage,
        CLOCK,
        args.name,
        plan=args.plan,
        status=args.status,
        source=args.source,
        active_until=args.until,
    )
    _audit(storage, "owner.add", owner.owner_id, name=owner.name, plan=owner.plan_name)
    print(
        owner.owner_id if args.quiet else f"owner {owner.owner_id} added ({owner.name})"
    )
    return 0


def owner_view(owner: owners.Owner) -> dict[str, Any]:
    return {
        "id": owner.owner_id,
        "name": owner.name,
        "plan": owner.plan_name,
        "status": "active" if owner.plan_active(CLOCK.now()) else "lapsed",
        "source": owner.plan_source,
        "activeUntil": (
            None if owner.active_until is None else rfc3339(owner.active_until)
        ),
        "createdAt": rfc3339(owner.created_at),
    }


def cmd_owner_list(args: argparse.Namespace, settings: config.Settings) -> int:
    views = [owner_view(o) for o in _storage(settings).list_owners()]
    if args.json:
        _print_json(views)
    elif not views:
        print("no owners yet; add one with: afinitwin-appliance owner add --name NAME")
    else:
        _table(
            [
                [v["id"], v["name"], v["plan"], v["status"], v["activeUntil"] or "-"]
                for v in views
            ],
            ["ID", "NAME", "PLAN", "STATUS", "ACTIVE UNTIL"],
        )
    return 0


def cmd_owner_set_plan(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    owner = manage.set_plan(
        storage, CLOCK, args.owner_id, args.plan, args.status, args.source, args.until
    )
    _audit(
        storage,
        "owner.set_plan",
        owner.owner_id,
        plan=owner.plan_name,
        status=owner.plan_status,
        activeUntil=owner.active_until,
    )
    view = owner_view(owner)
    print(f"owner {owner.owner_id}: {view['plan']} plan, {view['status']}")
    return 0


def cmd_snapshot_import(args: argparse.Namespace, settings: config.Settings) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    storage = _storage(settings)
    imported = manage.import_snapshot(storage, CLOCK, args.owner, data, path.name)
    record = imported.record
    if imported.created:
        _audit(storage, "snapshot.import", record.snapshot_id, owner=args.owner)
    if args.quiet:
        print(record.snapshot_id)
    elif imported.created:
        print(f"snapshot {record.snapshot_id} imported ({record.status})")
    else:
        print(f"snapshot {record.snapshot_id} was already imported; nothing changed")
    return 0


def cmd_snapshot_list(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    owner_ids = (
        [args.owner] if args.owner else [o.owner_id for o in storage.list_owners()]
    )
    if args.owner:
        manage.require_owner(storage, args.owner)
    views = [
        {"ownerId": oid, **summary(r)}
        for oid in owner_ids
        for r in storage.list_snapshots(oid)
    ]
    if args.json:
        _print_json(views)
    elif not views:
        print(
            "no snapshots yet; import one with: afinitwin-appliance snapshot import"
            " --owner ID FILE"
        )
    else:
        _table(
            [
                [
                    v["id"],
                    v["ownerId"],
                    v["snapshotDate"],
                    v["status"],
                    ",".join(v["languages"]),
                ]
                for v in views
            ],
            ["ID", "OWNER", "DATE", "STATUS", "LANGUAGES"],
        )
    return 0


def cmd_key_create(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    created = manage.create_key(
        storage,
        CLOCK,
        args.owner,
        args.name,
        scopes=args.scope,
        monthly_quota=args.quota,
        default_monthly=settings.default_monthly,
        expires_at=args.expires,
        networks=args.allow,
    )
    _audit(
        storage,
        "key.create",
        created.key.key_id,
        owner=args.owner,
        name=created.key.name,
        scopes=list(created.key.scopes),
        monthlyQuota=created.key.monthly_quota,
    )
    if args.quiet:
        print(created.plaintext)
    else:
        print(
            f"key {created.key.key_id} created for {created.key.owner_id}"
            f" ({', '.join(created.key.scopes)};"
            f" {created.key.monthly_quota:,} a month)."
        )
        print("Copy it now: it is shown only this once and is not stored anywhere.")
        print(f"\n    {created.plaintext}\n")
    return 0


def key_view(storage: Storage, key: Any) -> dict[str, Any]:
    return {
        "keyId": key.key_id,
        "ownerId": key.owner_id,
        "name": key.name,
        "scopes": list(key.scopes),
        "monthlyQuota": key.monthly_quota,
        "usedThisMonth": manage.key_usage(storage, CLOCK, key),
        "createdAt": rfc3339(key.created_at),
        "expiresAt": None if key.expires_at is None else rfc3339(key.expires_at),
        "allowedNetworks": list(key.allowed_networks),
        "state": manage.key_state(key, CLOCK.now()),
        "revokedAt": None if key.revoked_at is None else rfc3339(key.revoked_at),
        "lastUsedAt": None if key.last_used_at is None else rfc3339(key.last_used_at),
    }


def cmd_key_list(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    if args.owner:
        manage.require_owner(storage, args.owner)
    views = [key_view(storage, k) for k in storage.list_keys(args.owner)]
    if args.json:
        _print_json(views)
    elif not views:
        print(
            "no keys yet; create one with: afinitwin-appliance key create --owner ID"
            " --name NAME"
        )
    else:
        _table(
            [
                [
                    v["keyId"],
                    v["ownerId"],
                    v["name"],
                    " ".join(v["scopes"]),
                    f'{v["usedThisMonth"]}/{v["monthlyQuota"]}',
                    v["state"],
                ]
                for v in views
            ],
            ["KEY ID", "OWNER", "NAME", "SCOPES", "USED", "STATE"],
        )
    return 0


def cmd_key_revoke(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    key = manage.revoke_key(storage, CLOCK, args.key_id)
    _audit(storage, "key.revoke", key.key_id, owner=key.owner_id, name=key.name)
    print(f"key {key.key_id} revoked; it is refused from the next request on")
    return 0


def cmd_key_set_quota(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    before = (
        storage.get_key(args.key_id) if keys.KEY_ID_RE.fullmatch(args.key_id) else None
    )
    key = manage.set_key_quota(storage, args.key_id, args.quota)
    _audit(
        storage,
        "key.set_quota",
        key.key_id,
        owner=key.owner_id,
        before=before.monthly_quota if before else None,
        after=key.monthly_quota,
    )
    print(f"key {key.key_id}: monthly quota {key.monthly_quota:,}")
    return 0


def _new_password(args: argparse.Namespace) -> str:
    """The new password: from standard input or asked twice, never an argument.

    An argument would sit in the shell history and in every process listing.
    """
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        admins.check_password(password)
        return password
    if not sys.stdin.isatty():
        raise CliError(
            "no terminal to ask for the password; pipe it with --password-stdin"
        )
    first = getpass.getpass(
        f"Password for {args.name} ({admins.MIN_PASSWORD}+ characters): "
    )
    admins.check_password(first)
    if getpass.getpass("Repeat the password: ") != first:
        raise CliError("the two passwords differ; nothing was changed")
    return first


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def cmd_admin_add(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings, create=True)
    admins.check_name(args.name)
    if storage.get_admin(args.name) is not None:
        raise CliError(f"an admin named {args.name!r} exists; use 'admin passwd'")
    password = _new_password(args)
    admin = admins.add(storage, CLOCK, admins.Passwords(), args.name, password)
    audit.record(
        storage, CLOCK, _operator(), "admin.add", admin.name, audit.CLI_ADDRESS
    )
    print(f"admin {admin.name} added; sign in at /admin/ on the running appliance")
    return 0


def cmd_admin_passwd(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    if storage.get_admin(args.name) is None:
        raise CliError(f"no admin is named {args.name!r}")
    admin = admins.change_password(
        storage, CLOCK, admins.Passwords(), args.name, _new_password(args)
    )
    audit.record(
        storage, CLOCK, _operator(), "admin.passwd", admin.name, audit.CLI_ADDRESS
    )
    print(f"password of {admin.name} changed; its sessions were signed out")
    return 0


def cmd_admin_list(args: argparse.Namespace, settings: config.Settings) -> int:
    views = [
        {
            "name": a.name,
            "createdAt": rfc3339(a.created_at),
            "passwordChangedAt": rfc3339(a.password_changed_at),
        }
        for a in _storage(settings).list_admins()
    ]
    if args.json:
        _print_json(views)
    elif not views:
        print("no admins yet; add one with: afinitwin-appliance admin add NAME")
    else:
        _table(
            [[v["name"], v["createdAt"], v["passwordChangedAt"]] for v in views],
            ["NAME", "CREATED", "PASSWORD CHANGED"],
        )
    return 0


def cmd_webhook_add(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    created = manage.add_webhook(storage, CLOCK, args.owner, args.url, args.event)
    endpoint = created.endpoint
    # The audit entry names the endpoint, never its secret.
    _audit(
        storage,
        "webhook.add",
        endpoint.endpoint_id,
        owner=endpoint.owner_id,
        url=endpoint.url,
        events=list(endpoint.events),
    )
    if args.quiet:
        print(endpoint.endpoint_id)
        print(created.secret)
    else:
        print(
            f"webhook endpoint {endpoint.endpoint_id} added for {endpoint.owner_id}"
            f" ({len(endpoint.events)} events)."
        )
        print("Copy its signing secret now: it is shown only this once.")
        print(f"\n    {created.secret}\n")
    return 0


def cmd_webhook_list(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    if args.owner:
        manage.require_owner(storage, args.owner)
    views = [
        webhooks.endpoint_view(e) for e in storage.list_webhook_endpoints(args.owner)
    ]
    if args.json:
        _print_json(views)
    elif not views:
        print(
            "no webhook endpoints yet; add one with: afinitwin-appliance webhook add"
            " --owner ID --url URL"
        )
    else:
        _table(
            [
                [
                    v["endpointId"],
                    v["ownerId"],
                    "yes" if v["enabled"] else "no",
                    str(len(v["events"])),
                    v["url"],
                ]
                for v in views
            ],
            ["ENDPOINT ID", "OWNER", "ENABLED", "EVENTS", "URL"],
        )
    return 0


def cmd_webhook_remove(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    endpoint = manage.remove_webhook(storage, args.endpoint_id)
    _audit(
        storage,
        "webhook.remove",
        endpoint.endpoint_id,
        owner=endpoint.owner_id,
        url=endpoint.url,
    )
    print(f"webhook endpoint {endpoint.endpoint_id} removed with its deliveries")
    return 0


def cmd_webhook_test(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    delivery_id = manage.send_test_webhook(storage, CLOCK, args.endpoint_id)
    endpoint = manage.require_webhook(storage, args.endpoint_id)
    _audit(
        storage,
        "webhook.test",
        endpoint.endpoint_id,
        owner=endpoint.owner_id,
        delivery=delivery_id,
    )
    print(f"twin.test delivery {delivery_id} queued; the running appliance sends it")
    return 0


def _cmd_webhook_enabled(
    args: argparse.Namespace, settings: config.Settings, enabled: bool
) -> int:
    storage = _storage(settings)
    endpoint = manage.set_webhook_enabled(storage, args.endpoint_id, enabled)
    action = "enable" if enabled else "disable"
    _audit(storage, f"webhook.{action}", endpoint.endpoint_id, owner=endpoint.owner_id)
    print(f"webhook endpoint {endpoint.endpoint_id} {action}d")
    return 0


def cmd_webhook_enable(args: argparse.Namespace, settings: config.Settings) -> int:
    return _cmd_webhook_enabled(args, settings, True)


def cmd_webhook_disable(args: argparse.Namespace, settings: config.Settings) -> int:
    return _cmd_webhook_enabled(args, settings, False)


def cmd_webhook_deliveries(args: argparse.Namespace, settings: config.Settings) -> int:
    storage = _storage(settings)
    if args.endpoint:
        manage.require_webhook(storage, args.endpoint)
    found = storage.list_deliveries(endpoint_id=args.endpoint)
    attempts = storage.delivery_attempts([d.delivery_id for d in found])
    views = [webhooks.delivery_view(d, attempts) for d in found]
    if args.json:
        _print_json(views)
    elif not views:
        print("no deliveries yet")
    else:
        _table(
            [
                [
                    v["deliveryId"],
                    v["endpointId"],
                    v["event"],
                    v["status"],
                    str(v["attempts"]),
                    str(v["lastStatusCode"] or v["lastError"] or "-"),
                ]
                for v in views
            ],
            ["DELIVERY ID", "ENDPOINT", "EVENT", "STATUS", "ATTEMPTS", "LAST"],
        )
    return 0


HANDLERS: dict[tuple[str, str | None], Callable[..., int]] = {
    ("init", None): cmd_init,
    ("check", None): cmd_check,
    ("serve", None): cmd_serve,
    ("demo", None): cmd_demo,
    ("owner", "add"): cmd_owner_add,
    ("owner", "list"): cmd_owner_list,
    ("owner", "set-plan"): cmd_owner_set_plan,
    ("snapshot", "import"): cmd_snapshot_import,
    ("snapshot", "list"): cmd_snapshot_list,
    ("key", "create"): cmd_key_create,
    ("key", "list"): cmd_key_list,
    ("key", "revoke"): cmd_key_revoke,
    ("key", "set-quota"): cmd_key_set_quota,
    ("admin", "add"): cmd_admin_add,
    ("admin", "passwd"): cmd_admin_passwd,
    ("admin", "list"): cmd_admin_list,
    ("webhook", "add"): cmd_webhook_add,
    ("webhook", "list"): cmd_webhook_list,
    ("webhook", "remove"): cmd_webhook_remove,
    ("webhook", "test"): cmd_webhook_test,
    ("webhook", "enable"): cmd_webhook_enable,
    ("webhook", "disable"): cmd_webhook_disable,
    ("webhook", "deliveries"): cmd_webhook_deliveries,
}
