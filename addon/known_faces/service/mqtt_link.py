"""The MQTT connection: paho-mqtt 2.x on its own network thread, handing over to asyncio.

paho's background loop already reconnects with exponential backoff (1 s up to 30 s), including
the very first connection, so the service starts even while the broker is down and keeps
serving HTTP. Every (re)connect resubscribes and re-announces, because a restarted broker
may have lost both subscriptions and retained messages.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from .topics import Topics

LOG = logging.getLogger(__name__)

KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# QoS 1 messages published while the broker is away wait in paho's queue; bound it so an
# outage of any length cannot grow memory (the oldest results are the least useful anyway).
MAX_QUEUED = 1000


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where and how to connect."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


SnapshotHandler = Callable[[str, bytes, float], None]


class MqttLink:
    """One client: subscriptions, the last will, and thread-safe publishing."""

    def __init__(
        self,
        broker: BrokerSettings,
        topics: Topics,
        *,
        client_id: str,
        loop: asyncio.AbstractEventLoop,
        on_snapshot: SnapshotHandler,
        on_connected: Callable[[], None],
    ) -> None:
        self.broker = broker
        self.topics = topics
        self._loop = loop
        self._on_snapshot = on_snapshot
        self._on_connected = on_connected
        self.connected = False
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if broker.username:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set_context(ssl.create_default_context())
        client.will_set(topics.status, "offline", qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(MAX_QUEUED)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        self._client = client

    def start(self) -> None:
        """Connect in the background; failures are retried with backoff."""
        LOG.info("MQTT: connecting to %s:%s", self.broker.host, self.broker.port)
        self._client.connect_async(self.broker.host, self.broker.port, KEEPALIVE_S)
        self._client.loop_start()

    def stop(self, timeout: float = 2.0) -> None:
        """Say ``offline`` (retained) and disconnect cleanly; blocks up to ``timeout``."""
        was_connected, self.connected = self.connected, False
        if was_connected:
            info = self._client.publish(self.topics.status, "offline", qos=1, retain=True)
            info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """QoS 1 publish from any thread; queued (bounded) while disconnected."""
        self._client.publish(topic, payload, qos=1, retain=retain)

    # -- paho callbacks (network thread) -----------------------------------------------------
    def _handle_connect(
        self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            LOG.warning("MQTT: broker refused the connection: %s", reason)
            return
        client.subscribe([(topic, 1) for topic in self.topics.subscriptions])
        client.publish(self.topics.status, "online", qos=1, retain=True)
        self.connected = True
        LOG.info("MQTT: connected, subscribed to %s", ", ".join(self.topics.subscriptions))
        self._loop.call_soon_threadsafe(self._on_connected)

    def _handle_disconnect(
        self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if self.connected:
            LOG.warning("MQTT: disconnected (%s); reconnecting with backoff", reason)
        self.connected = False

    def _handle_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        if msg.retain:
            # Sent because we (re)subscribed, not because a camera saw someone now: Frigate
            # retains its snapshots, and replaying them would announce old sightings as new.
            return
        camera = self.topics.camera_of(msg.topic)
        if camera is None:
            return
        self._loop.call_soon_threadsafe(self._on_snapshot, camera, msg.payload, time.monotonic())
