"""The `crm-membercare` command (DESIGN A0)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from crm_membercare.sandbox.serving import LOOPBACK


def _run_sandboxes(args: argparse.Namespace) -> int:
    import httpx
    import uvicorn

    from crm_membercare.sandbox.customcrm.app import create_app as create_customcrm
    from crm_membercare.sandbox.membercare.app import create_app as create_membercare
    from crm_membercare.sandbox.serving import uvicorn_config

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    apps = {
        "CustomCRM": (create_customcrm(data_dir / "customcrm.sqlite"), args.crm_port),
        "MemberCare": (create_membercare(data_dir / "membercare.sqlite"), args.membercare_port),
    }
    servers = [uvicorn.Server(uvicorn_config(app, args.host, port)) for app, port in apps.values()]

    async def serve() -> None:
        tasks = [asyncio.create_task(server.serve()) for server in servers]
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                await asyncio.gather(*tasks)
                return
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(timeout=300) as admin:
            for name, (_, port) in apps.items():
                root = f"http://{args.host}:{port}"
                if args.reset:
                    (await admin.post(f"{root}/_sandbox/reset")).raise_for_status()
                if args.seed is not None:
                    body = {"seed": args.seed, "scale": args.scale, "overlap": args.overlap}
                    response = await admin.post(f"{root}/_sandbox/seed", json=body)
                    response.raise_for_status()
                    print(f"{name}: seeded {response.json()['seeded']}", flush=True)
                print(f"{name} sandbox: {root}/api/v1", flush=True)
        await asyncio.gather(*tasks)

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


def _print_docs(_: argparse.Namespace) -> int:
    from crm_membercare.mapping.document import render_dataflow_document

    sys.stdout.write(render_dataflow_document())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-membercare", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="run both sandbox servers in the foreground")
    sandbox.add_argument("--crm-port", type=int, default=8101)
    sandbox.add_argument("--membercare-port", type=int, default=8102)
    sandbox.add_argument("--host", default=LOOPBACK, help="bind address (default: loopback only)")
    sandbox.add_argument("--data-dir", default="data/sandbox")
    sandbox.add_argument("--seed", type=int, default=None, help="seed both stores with this seed")
    sandbox.add_argument("--scale", default="small", choices=("small", "medium", "large"))
    sandbox.add_argument("--overlap", type=float, default=0.3)
    sandbox.add_argument("--reset", action="store_true", help="empty both stores first")
    sandbox.set_defaults(handler=_run_sandboxes)

    docs = commands.add_parser("docs", help="print the QA dataflow document (reStructuredText)")
    docs.set_defaults(handler=_print_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
