"""The settings of `emphysema pacs`: where Orthanc keeps its files, its ports, how long to wait."""

from __future__ import annotations

import dataclasses
from pathlib import Path

# Debian's orthanc and orthanc-dicomweb packages put the binary and the plugin here.
ORTHANC_BINARY = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
LOOPBACK = "127.0.0.1"


@dataclasses.dataclass(frozen=True)
class PacsSettings:
    """One Orthanc server.

    Orthanc 1.10 has no bind-address option: its HTTP server listens on every interface and
    `RemoteAccessAllowed: false` makes it answer 403 to any request not from loopback. Its DICOM
    (DIMSE) server cannot be limited to loopback at all and would accept C-STORE without a
    password, so it is switched off: DICOMweb over HTTP is the only way in.

    Attributes:
        storage: private folder (created 0700) holding the database, the DICOM files and the log.
        http_port: the HTTP port (REST API and DICOMweb under /dicom-web/).
        stable_age_s: seconds without a new instance after which Orthanc calls a study complete
            (its `StableAge`; the `StableStudy` change `emphysema watch` waits for).
        ready_timeout_s: how long to wait for Orthanc to answer before giving up.
        stop_timeout_s: how long a stopping Orthanc may take before it is killed.
        binary: the Orthanc executable.
        dicomweb_plugin: the DICOMweb plugin library.
    """

    storage: Path
    http_port: int = 8042
    stable_age_s: int = 60
    ready_timeout_s: float = 30.0
    stop_timeout_s: float = 10.0
    binary: Path = ORTHANC_BINARY
    dicomweb_plugin: Path = DICOMWEB_PLUGIN

    def __post_init__(self) -> None:
        if not 1 <= self.http_port <= 65535:
            raise ValueError(f"http_port must be between 1 and 65535, got {self.http_port}")
        if self.stable_age_s < 1:
            raise ValueError(f"stable_age_s must be at least 1 second, got {self.stable_age_s}")
        if self.ready_timeout_s <= 0 or self.stop_timeout_s <= 0:
            raise ValueError("ready_timeout_s and stop_timeout_s must be positive")

    @property
    def url(self) -> str:
        """Orthanc's base URL (REST API)."""
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb root that QIDO-RS, WADO-RS and STOW-RS clients use."""
        return f"{self.url}/dicom-web"
