"""Known Faces: local face recognition for Home Assistant and MQTT.

The pipeline is usable without the service::

    from known_faces import Engine, Gallery, Recognizer
    recognizer = Recognizer(Engine.load(), Gallery.open(data_dir))
    result = recognizer.recognize(jpeg_bytes, camera="door")
"""

from .engine import Engine
from .errors import KnownFacesError
from .gallery import Gallery
from .match import Matcher, MatchSettings
from .quality import QualityGates
from .recognizer import Recognizer
from .results import FaceResult, FaceStatus, SnapshotResult

__version__ = "0.1.0"

__all__ = [
    "Engine",
    "FaceResult",
    "FaceStatus",
    "Gallery",
    "KnownFacesError",
    "MatchSettings",
    "Matcher",
    "QualityGates",
    "Recognizer",
    "SnapshotResult",
    "__version__",
]
