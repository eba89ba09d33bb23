"""gunicorn for the web processes:  gunicorn -c config/gunicorn.conf.py config.wsgi

Configured by environment variables, like the rest (README, "Deployment"):

  GUNICORN_BIND          0.0.0.0:$PORT (PORT defaults to 8000)
  WEB_CONCURRENCY        worker processes; default 2 per CPU plus 1, at most 8
  GUNICORN_THREADS       threads per worker; above 1 gunicorn uses its gthread worker
  GUNICORN_TIMEOUT       seconds a worker may go silent before it is killed and replaced (60)
  FORWARDED_ALLOW_IPS    proxies whose X-Forwarded-Proto is believed (127.0.0.1; "*" inside a
                         private network whose only way in is the proxy)
  LOG_FORMAT             plain (default) or json: then gunicorn's own lines are JSON objects too
  GUNICORN_CONTROL_SOCKET  a path for gunicornc's control socket (off by default)

Put a buffering reverse proxy (nginx, a cloud load balancer) in front: sync workers are tied up
for as long as a slow client takes to send an upload.
"""

from __future__ import annotations

import multiprocessing
import os

from gunicorn.http import wsgi as _gunicorn_wsgi


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("GUNICORN_THREADS", 1)
# Uploads are capped at 20 MB and checked in memory; nothing a request does should take a minute.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then, so a slow leak never grows without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The heartbeat file lives in memory: a slow disk (or a container's overlay) cannot stall workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# gunicornc's control socket is off unless asked for: one fixed path per host would be shared by
# every instance there (several containers, or a test beside a running server).
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]


# No `Server: gunicorn` on responses: what serves the site is nobody else's business. gunicorn has
# no setting for it, so its response class leaves the line out (workers inherit it from the master).
def _without_server_header(
    self: _gunicorn_wsgi.Response, _default=_gunicorn_wsgi.Response.default_headers
) -> list[str]:
    return [line for line in _default(self) if not line.lower().startswith("server:")]


_gunicorn_wsgi.Response.default_headers = _without_server_header  # type: ignore[method-assign]

accesslog = "-"
errorlog = "-"
# The response's X-Request-ID (core.logs.RequestIdMiddleware) ties the line to the app's lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'

if os.environ.get("LOG_FORMAT") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portfolio.runner.jsonlog.JsonFormatter"}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "root": {"level": "INFO", "handlers": ["stdout"]},
        # Not propagated: Django's LOGGING gives the root logger a handler of its own in each worker.
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        },
    }
