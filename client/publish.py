"""`emphysema publish`: serve the web app and publish it through an authenticated ngrok tunnel.

Authentication is required by default, enforced at ngrok's edge by a Traffic Policy: either
basic auth built from ``EMPHYSEMA_PUBLIC_AUTH=user:password``, or a policy file of your own
(``--traffic-policy FILE``, e.g. OAuth or OpenID Connect). ``--no-auth`` publishes to anyone and
says so. Only the web app's port is tunnelled, never Triton's. The ngrok token comes from
``NGROK_AUTHTOKEN``. If ngrok cannot be installed or started, the app keeps running locally.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pyngrok import conf, ngrok
from pyngrok.exception import PyngrokError, PyngrokNgrokInstallError

from client.launch import APP_SCRIPT, AppSettings, start_app, stop_app, wait_until_serving
from client.triton import TritonSettings
from emphysema.lifetime import child_pids, release_guardian, start_guardian, stop_on_signals
from imaging.errors import EmphysemaError

AUTH_VARIABLE = "EMPHYSEMA_PUBLIC_AUTH"
TOKEN_VARIABLE = "NGROK_AUTHTOKEN"
# Triton's standard HTTP, gRPC and metrics ports: never published, whatever --url says.
TRITON_DEFAULT_PORTS = (8000, 8001, 8002)
# ngrok's basic-auth action accepts passwords of 8 to 128 characters.
PASSWORD_LENGTHS = range(8, 129)


class PublishError(EmphysemaError):
    """Publishing was refused; the message says why and what to do instead."""


def basic_auth_policy(credentials: str) -> dict:
    """Return an ngrok Traffic Policy enforcing HTTP basic auth for ``user:password``.

    Raises:
        PublishError: the credentials are malformed or the password is too short (never echoed).
    """
    user, separator, password = credentials.partition(":")
    if not separator or not user or ":" in password:
        raise PublishError(f"{AUTH_VARIABLE} must be user:password (one colon)")
    if len(password) not in PASSWORD_LENGTHS:
        raise PublishError(f"the password in {AUTH_VARIABLE} must have 8 to 128 characters (ngrok's rule)")
    action = {"type": "basic-auth", "config": {"credentials": [credentials]}}
    return {"on_http_request": [{"actions": [action]}]}


def read_traffic_policy(path: Path) -> dict:
    """Read an ngrok Traffic Policy file (YAML or JSON) with at least one rule.

    Raises:
        PublishError: the file is missing, unparsable or has no ``on_http_request`` rules.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PublishError(f"{path}: cannot read the traffic policy ({error.strerror or error})") from None
    try:
        policy = json.loads(text)
    except json.JSONDecodeError:
        try:
            import yaml
        except ModuleNotFoundError:
            raise PublishError(f"{path}: not JSON, and PyYAML is not installed to read YAML") from None
        try:
            policy = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise PublishError(f"{path}: not valid YAML or JSON ({type(error).__name__})") from None
    if not isinstance(policy, dict) or not policy.get("on_http_request"):
        raise PublishError(f"{path}: a traffic policy needs on_http_request rules (e.g. an oauth action)")
    return policy


def choose_traffic_policy(
    policy_file: Path | None, no_auth: bool, environment: Mapping[str, str]
) -> dict | None:
    """Apply the auth rules: a policy file, else EMPHYSEMA_PUBLIC_AUTH, else only an explicit --no-auth.

    Raises:
        PublishError: no authentication was configured and --no-auth was not given, or both were.
    """
    credentials = environment.get(AUTH_VARIABLE, "")
    if no_auth and (policy_file or credentials):
        raise PublishError(
            f"--no-auth contradicts the configured authentication ({AUTH_VARIABLE} or "
            "--traffic-policy); remove one"
        )
    if policy_file is not None:
        return read_traffic_policy(policy_file)
    if credentials:
        return basic_auth_policy(credentials)
    if no_auth:
        return None
    raise PublishError(
        f"publishing needs authentication: set {AUTH_VARIABLE}=user:password (8+ "
        "character password), or pass --traffic-policy FILE (OAuth / OpenID Connect). "
        "--no-auth publishes the app to anyone who finds the URL."
    )


def check_not_triton_port(port: int, triton_url: str) -> None:
    """Refuse to tunnel a Triton port: only the web app may be reachable from outside.

    Raises:
        PublishError: the port is Triton's (from --url or Triton's defaults).
    """
    triton_port = urlsplit(f"//{triton_url}").port
    if port == triton_port or port in TRITON_DEFAULT_PORTS:
        raise PublishError(
            f"refusing to publish port {port}: it is a Triton port, and Triton must never be "
            "exposed; publish the web app's port (--port, default 8501)"
        )


def check_port_free(port: int, address: str) -> None:
    """Refuse a port something already listens on: the tunnel may only lead to the app started here.

    Triton on non-default ports (its HTTP or metrics port) is the dangerous case: the tunnel would
    expose it while the app fails to bind.

    Raises:
        PublishError: the port is taken.
    """
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free
        try:
            probe.bind((address, port))
        except OSError:
            raise PublishError(
                f"refusing to publish port {port}: another program already listens on it "
                "(perhaps Triton on a non-default port), and the tunnel may only lead to the "
                "web app this command starts; choose a free --port"
            ) from None


def open_tunnel(port: int, policy: dict | None, token: str, ngrok_path: str | None) -> str:
    """Open an ngrok HTTP tunnel to the local port with the policy; return the public URL."""
    config = conf.PyngrokConfig(auth_token=token, ngrok_path=ngrok_path)
    options = {"traffic_policy": policy} if policy is not None else {}
    tunnel = ngrok.connect(str(port), "http", pyngrok_config=config, **options)
    return str(tunnel.public_url)


def build_parser() -> argparse.ArgumentParser:
    """The command line of `emphysema publish`."""
    defaults = AppSettings()
    parser = argparse.ArgumentParser(prog="emphysema publish", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=defaults.port, help=f"local web port (default {defaults.port})"
    )
    parser.add_argument(
        "--url", default=TritonSettings().url, help="Triton gRPC address the app uses (default %(default)s)"
    )
    parser.add_argument(
        "--traffic-policy",
        type=Path,
        metavar="FILE",
        help="ngrok Traffic Policy file (YAML/JSON), e.g. OAuth or OpenID Connect (default: basic auth from "
        f"{AUTH_VARIABLE}=user:password)",
    )
    parser.add_argument("--no-auth", action="store_true", help="publish WITHOUT authentication (not advised)")
    parser.add_argument("--ngrok-path", help="an installed ngrok binary (default: pyngrok downloads one)")
    return parser


def _tunnel_failure_message(error: PyngrokError, settings: AppSettings) -> str:
    if isinstance(error, PyngrokNgrokInstallError):
        reason = (
            "ngrok is not installed and could not be downloaded (is this machine offline?). Install "
            "ngrok from https://ngrok.com/download and pass --ngrok-path /path/to/ngrok"
        )
    else:
        reason = f"ngrok could not open the tunnel: {str(error).splitlines()[0][:300]}"
    return f"emphysema publish: {reason}. The app keeps running locally at {settings.local_url}."


def main(argv: Sequence[str] | None = None, script: Path = APP_SCRIPT) -> int:
    """Run `emphysema publish` until interrupted; 0 when published, 1 when only served locally, 2 refused.

    Ctrl-C, SIGTERM and SIGHUP stop the app and the tunnel. ``script`` is the Streamlit script to
    publish (`web.publish` passes the whole web app).
    """
    arguments = build_parser().parse_args(argv)
    with stop_on_signals():
        try:
            return _publish(arguments, script)
        except KeyboardInterrupt:  # a stop signal before the app was serving
            ngrok.kill()
            return 1


def _publish(arguments: argparse.Namespace, script: Path) -> int:
    token = os.environ.get(TOKEN_VARIABLE, "")
    try:
        policy = choose_traffic_policy(arguments.traffic_policy, arguments.no_auth, os.environ)
        check_not_triton_port(arguments.port, arguments.url)
        if not token:
            raise PublishError(
                f"set {TOKEN_VARIABLE} to your ngrok authtoken "
                "(https://dashboard.ngrok.com/get-started/your-authtoken)"
            )
        settings = AppSettings(port=arguments.port, triton_url=arguments.url, script=script)
        check_port_free(settings.port, settings.address)
    except (PublishError, ValueError) as error:
        print(f"emphysema publish: {error}", file=sys.stderr)
        return 2
    if policy is None:
        print(
            "WARNING: publishing WITHOUT authentication: anyone with the URL can upload scans and see "
            "results.",
            file=sys.stderr,
        )
    public_url: str | None = None
    try:
        public_url = open_tunnel(settings.port, policy, token, arguments.ngrok_path)
    except PyngrokError as error:
        print(_tunnel_failure_message(error, settings), file=sys.stderr)
    # The app only accepts its own Host names (DNS-rebinding protection) once the tunnel's is known.
    hosts = (urlsplit(public_url).hostname or "", "localhost", "127.0.0.1") if public_url else ()
    settings = dataclasses.replace(settings, allowed_hosts=hosts)
    process = start_app(settings)
    # The app dies with this process by itself (parent-death signal); the ngrok agent pyngrok
    # started cannot be told to, so a guardian stops it (and the app) if this process is killed.
    guardian = start_guardian(child_pids())
    try:
        wait_until_serving(settings, process)
        if public_url:
            protection = "no authentication" if policy is None else "authentication required"
            print(f"Public URL: {public_url}  ({protection})", flush=True)
        print(f"Local URL: {settings.local_url}  (Ctrl-C stops the app and the tunnel)", flush=True)
        process.wait()
    except RuntimeError as error:
        print(f"emphysema publish: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        stop_app(process)
        if public_url:
            ngrok.disconnect(public_url)
            ngrok.kill()
        release_guardian(guardian)
    return 0 if public_url else 1
