"""The school's facts and the gateway's settings: typed values (``settings``), their
schema (``schema``) and how they are read from ``config/gateway.toml`` (``load``)."""

from gateway.config.load import load_config, with_exceptions
from gateway.config.settings import (
    ApprovedDetail,
    Config,
    HostPort,
    NoticeSettings,
    RelaySettings,
    ScannerLimits,
    WebSettings,
    parse_host_port,
)

__all__ = [
    "ApprovedDetail",
    "Config",
    "HostPort",
    "NoticeSettings",
    "RelaySettings",
    "ScannerLimits",
    "WebSettings",
    "load_config",
    "parse_host_port",
    "with_exceptions",
]
