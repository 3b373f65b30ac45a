"""`edge central …`: the operations centre (ingest, device registry, ledger relay, dashboard, export).

MQTT settings (an operator account) come from the ``[mqtt]`` section of ``edge --config FILE``.
The database is ``--db URL`` (``postgresql://…`` or ``sqlite:///path``), else ``$TEPAT_CENTRAL_DB``,
else ``<state>/central.sqlite``; the central signing key is ``<state>/central_ed25519.pem``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("central", help="the operations centre: ingest records into a database, relay payouts, serve the dashboard",
                       description="Runs on the central side, never on a terminal. Records arrive over an MQTT 5 shared subscription, "
                                   "are checked against the device registry (schema, Ed25519 signature) and written once per idempotency "
                                   "key; the broker is acknowledged only after the commit. New payouts are relayed, signed by the central "
                                   "key, to the other terminals of the same point (cmd/ledger). See docs/CENTRAL.md.")
    p.add_argument("--state", type=Path, default=Path(os.environ.get("TEPAT_CENTRAL_STATE", "central-state")),
                   help="folder for the central key (and the SQLite database by default); default ./central-state or $TEPAT_CENTRAL_STATE")
    p.add_argument("--db", default=os.environ.get("TEPAT_CENTRAL_DB"),
                   help="database URL: postgresql://user@host/db or sqlite:///path (default $TEPAT_CENTRAL_DB, else <state>/central.sqlite)")
    csub = p.add_subparsers(dest="central_command", metavar="ACTION", required=True)

    s = csub.add_parser("init", help="create the schema (migrations) and the central signing key")
    s.set_defaults(func=run_init)

    d = csub.add_parser("devices", help="the device registry: add | list | revoke")
    dsub = d.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    a = dsub.add_parser("add", help="register (or re-key) a terminal with its Ed25519 public key")
    a.add_argument("device_id")
    a.add_argument("--key", type=Path, required=True, help="the terminal's device_ed25519.pub.pem")
    a.add_argument("--region", required=True, help="region code used in its topics (e.g. jabar)")
    a.add_argument("--point", required=True, help="distribution point it serves")
    a.set_defaults(func=run_devices_add)
    dsub.add_parser("list", help="list registered terminals (JSON)").set_defaults(func=run_devices_list)
    r = dsub.add_parser("revoke", help="refuse every further message from a terminal (kept apart, counted)")
    r.add_argument("device_id")
    r.set_defaults(func=run_devices_revoke)

    ro = csub.add_parser("rosters", help="log rosters issued (their size is what the dashboard compares payouts against)")
    rsub = ro.add_subparsers(dest="rosters_command", metavar="ACTION", required=True)
    ra = rsub.add_parser("add", help="record a signed roster file")
    ra.add_argument("file", type=Path)
    ra.add_argument("--region", help="region of its distribution point")
    ra.set_defaults(func=run_rosters_add)

    i = csub.add_parser("ingest", help="run ingest workers until stopped (SIGTERM/Ctrl-C)")
    i.add_argument("--workers", type=int, default=1, help="worker processes sharing the subscription (default 1)")
    i.add_argument("--group", default="tepat-central", help="shared-subscription group name (default tepat-central)")
    i.add_argument("--client-id", default="tepat-central-ingest", help="client id prefix; each worker adds -<n> (keep it stable: "
                                                                       "the broker keeps the worker's session under it)")
    i.add_argument("--relay-scope", choices=["point", "region", "all"], default="point",
                   help="which other terminals hear of a payout (default: those of the same distribution point)")
    i.add_argument("--shared", action="store_true", help="use the shared subscription even with one worker (automatic with "
                   "--workers > 1; e.g. for workers started on several machines). Note: Mosquitto 2.0 forgets shared "
                   "subscriptions when it restarts; see docs/CENTRAL.md")
    i.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    i.set_defaults(func=run_ingest)

    v = csub.add_parser("serve", help="serve the dashboard (and optionally ingest in the same process)")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; put a TLS proxy in front to publish)")
    v.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    v.add_argument("--ingest", action="store_true", help="also run one ingest worker in this process")
    v.add_argument("--tz-hours", type=int, default=7, help="where 'today' starts, hours from UTC (default 7, WIB)")
    v.set_defaults(func=run_serve)

    e = csub.add_parser("export", help="CSV of every record of a period")
    e.add_argument("--period", required=True, help="YYYY-MM")
    e.add_argument("--out", type=Path, help="file to write (default: standard output)")
    e.set_defaults(func=run_export)

    st = csub.add_parser("status", help="counts: devices, records, payouts, conflicts, kept apart, relay backlog (JSON)")
    st.set_defaults(func=run_status)

    sh = csub.add_parser("screenshot", help="a PNG of the dashboard from headless Chromium")
    sh.add_argument("--url", required=True, help="dashboard URL (e.g. http://127.0.0.1:8080/)")
    sh.add_argument("--out", type=Path, required=True)
    sh.add_argument("--size", default="1400,1100", help="window size W,H (default 1400,1100)")
    sh.set_defaults(func=run_screenshot)


# --- helpers ------------------------------------------------------------------------------
def db_url(args: argparse.Namespace) -> str:
    return args.db or f"sqlite:///{(args.state / 'central.sqlite').resolve()}"


def key_path(args: argparse.Namespace) -> Path:
    return args.state / "central_ed25519.pem"


def open_db(args: argparse.Namespace):  # noqa: ANN201
    from edge.central.db import Database

    db = Database(db_url(args))
    db.migrate()
    return db


def central_key(args: argparse.Namespace, create: bool = False):  # noqa: ANN201
    from edge.claim.records.crypto import generate_signing_key, load_private_key, private_key_pem, public_key_pem, write_private_file

    path = key_path(args)
    if create and not path.exists():
        args.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = generate_signing_key()
        write_private_file(path, private_key_pem(key))
        path.with_suffix(".pub.pem").write_bytes(public_key_pem(key.public_key()))
    return load_private_key(path)


def _print(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


# --- handlers -----------------------------------------------------------------------------
def run_init(args: argparse.Namespace) -> int:
    from edge.central.db import describe
    from edge.claim.records.crypto import public_key_id

    with open_db(args) as db:
        key = central_key(args, create=True)
        _print({"database": describe(db.url), "dialect": db.dialect, "central_key": str(key_path(args)),
                "central_public_key": str(key_path(args).with_suffix(".pub.pem")), "central_key_id": public_key_id(key.public_key()),
                "next": "give terminals the public key (claim.central_keys) and register each with 'edge central devices add'"})
    return 0


def run_devices_add(args: argparse.Namespace) -> int:
    from edge.central.store import add_device
    from edge.errors import EdgeError

    try:
        pem = args.key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgeError(f"cannot read the device public key {args.key}: {exc}") from None
    with open_db(args) as db:
        _print(add_device(db, args.device_id, args.region, args.point, pem))
    return 0


def run_devices_list(args: argparse.Namespace) -> int:
    from edge.central.store import list_devices

    with open_db(args) as db:
        _print(list_devices(db))
    return 0


def run_devices_revoke(args: argparse.Namespace) -> int:
    from edge.central.store import revoke_device

    with open_db(args) as db:
        revoke_device(db, args.device_id)
    print(f"{args.device_id} revoked: its messages are now kept apart as 'revoked_device'")
    return 0


def run_rosters_add(args: argparse.Namespace) -> int:
    from edge.central.store import add_roster
    from edge.errors import EdgeError

    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EdgeError(f"cannot read roster {args.file}: {exc}") from None
    with open_db(args) as db:
        _print(add_roster(db, doc, args.region))
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *a: stop.set())
    while not stop.wait(1.0):
        pass


def _open_db_when_up(args: argparse.Namespace, give_up_s: float = 600.0) -> None:
    """Apply migrations, waiting for a database that is not up yet (a restart, a slow boot): one line, then retries.

    A service started while its database restarts resumes by itself, as a running ingest does."""
    import time

    from edge.central.db import DatabaseUnavailable

    end, delay, said = time.monotonic() + give_up_s, 0.5, False
    while True:
        try:
            open_db(args).close()
            if said:
                print("central database is up; starting", file=sys.stderr, flush=True)
            return
        except DatabaseUnavailable as exc:
            if time.monotonic() > end:
                raise
            if not said:
                print(f"central database not reachable yet ({exc}); retrying for up to {give_up_s:.0f} s", file=sys.stderr, flush=True)
                said = True
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def run_ingest(args: argparse.Namespace) -> int:
    from edge.central.ingest import IngestWorker
    from edge.commands.common import config_from_args
    from edge.errors import EdgeError

    cfg = config_from_args(args)
    _open_db_when_up(args)  # migrations once, before any worker starts
    key = central_key(args)
    if args.workers > 1 and args.worker_index is None:
        return _fan_out(args)
    n = args.worker_index or 1
    worker = IngestWorker(cfg.mqtt, db_url(args), key, group=args.group, client_id=f"{args.client_id}-{n}", relay_scope=args.relay_scope,
                          shared=args.shared or args.worker_index is not None)
    with worker:
        if not worker.wait_connected(30):
            raise EdgeError(f"ingest could not subscribe at {cfg.mqtt.host}:{cfg.mqtt.port} within 30 s")
        print(f"ingest worker {n} subscribed ({'group ' + args.group if worker.shared else 'plain subscription'}); Ctrl-C to stop", flush=True)
        _wait_for_signal()
    _print(worker.stats.as_dict())
    return 0


def _fan_out(args: argparse.Namespace) -> int:
    base = [sys.executable, "-m", "edge"] + (["--config", args.config] if getattr(args, "config", None) else [])
    base += ["central", "--state", str(args.state)] + (["--db", args.db] if args.db else [])
    procs = [subprocess.Popen(base + ["ingest", "--group", args.group, "--client-id", args.client_id, "--relay-scope", args.relay_scope,
                                      "--worker-index", str(i)]) for i in range(1, args.workers + 1)]
    try:
        _wait_for_signal()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
    return max((p.returncode or 0) for p in procs)


def run_serve(args: argparse.Namespace) -> int:
    from edge.central.web import DashboardServer
    from edge.commands.common import config_from_args

    open_db(args).close()
    server = DashboardServer(db_url(args), args.host, args.port, args.tz_hours).start()
    worker = None
    if args.ingest:
        from edge.central.ingest import IngestWorker

        cfg = config_from_args(args)
        worker = IngestWorker(cfg.mqtt, db_url(args), central_key(args), client_id="tepat-central-ingest-1", shared=False).start()
    print(f"dashboard at {server.url}", flush=True)
    try:
        _wait_for_signal()
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
    return 0


def run_export(args: argparse.Namespace) -> int:
    from edge.central.views import export_csv
    from edge.central.web import PERIOD
    from edge.errors import EdgeError

    if not PERIOD.match(args.period):
        raise EdgeError(f"--period {args.period!r}: expected YYYY-MM")
    with open_db(args) as db:
        text = export_csv(db, args.period)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"{text.count(chr(10)) - 1} record(s) of {args.period} written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from edge.central.views import status

    with open_db(args) as db:
        _print(status(db))
    return 0


def run_screenshot(args: argparse.Namespace) -> int:
    from edge.central.screenshot import screenshot

    screenshot(args.url, args.out, args.size)
    print(f"screenshot of {args.url} written to {args.out}")
    return 0
