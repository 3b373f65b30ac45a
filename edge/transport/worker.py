"""Run the outbox publisher as its own process: ``python -m edge.transport.worker --config edge.toml``.

It drains the configured outbox to the configured broker until SIGTERM/SIGINT, logging a short
progress line every ``--report-s`` seconds. The capture/claim process only appends to the outbox,
so a crash or kill here never touches an accepted record.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

logger = logging.getLogger("edge.transport.worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.transport.worker", description="Drain the SQLite outbox to MQTT until stopped.")
    parser.add_argument("-c", "--config", help="configuration file (TOML)")
    parser.add_argument("--report-s", type=float, default=30.0, help="seconds between progress lines (default 30)")
    args = parser.parse_args(argv)

    from edge.config import load_config
    from edge.errors import EdgeError
    from edge.logs import setup_logging
    from edge.transport.mqtt import MqttPublisher

    try:
        cfg = load_config(args.config)
    except EdgeError as exc:
        print(f"worker: error: {exc}", file=sys.stderr)
        return exc.exit_code
    setup_logging(cfg.device.log_level, cfg.device.log_format)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        from edge.claim.records.row_check import verifier_for_config

        publisher = MqttPublisher(cfg.mqtt, cfg.device, cfg.outbox_path, store=cfg.store,
                                  row_verifier=verifier_for_config(cfg)).start()  # records checked before publishing
    except EdgeError as exc:
        logger.error("worker: %s", exc)
        return exc.exit_code
    logger.info("outbox publisher running for %s: %s -> %s:%d", cfg.device.device_id, cfg.outbox_path, cfg.mqtt.host, cfg.mqtt.port)
    while not stop.wait(args.report_s):
        s = publisher.stats()
        logger.info("publisher: link %s, %d published, %d acknowledged, %d in flight", s.link_state, s.published, s.acked, s.inflight)
    publisher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
