"""Known Faces: local face recognition for Home Assistant and MQTT.

The pipeline is usable without the service::

    from known_faces import Engine, Gallery, Recognizer
    recognizer = Recognizer(Engine.load(), Gallery.open(data_dir))
    result = recognizer.recognize(jpeg_bytes, camera="door")
"""

from .errors import KnownFacesError
from .pipeline.engine import Engine
from .pipeline.match import Matcher, MatchSettings
from .pipeline.quality import QualityGates
from .pipeline.results import FaceResult, FaceStatus, SnapshotResult
from .recognizer import Recognizer
from .store.gallery import Gallery

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
