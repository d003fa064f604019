"""The MQTT connection: paho-mqtt 2.x on its own network thread, handing over to asyncio.

paho's background loop reconnects by itself, including the very first connection, so the
service starts even while the broker is down and keeps serving HTTP. The backoff is capped at
``RECONNECT_MAX_S`` so a broker that comes back is used within seconds, and an outage is logged
once when it starts (with the reason and the retry schedule) and once when it ends. Every
(re)connect resubscribes, because a restarted broker may have lost the subscriptions.

Publishing goes through ``publish``, which says whether paho took the message; acknowledgements
(PUBACK) are reported with ``on_acked`` so the outbox can bound what is in flight.
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
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

LOG = logging.getLogger(__name__)

KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 4


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where and how to connect."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


# topic, payload, monotonic arrival time, whether the broker replayed it as retained
MessageHandler = Callable[[str, bytes, float, bool], None]


@dataclass(frozen=True, slots=True)
class LinkCallbacks:
    """What the link tells the service, each called on the event loop."""

    on_message: MessageHandler
    on_connected: Callable[[], None]
    on_disconnected: Callable[[], None]
    on_acked: Callable[[], None]


class MqttLink:
    """One client: subscriptions, the last will, and thread-safe publishing."""

    def __init__(self, broker: BrokerSettings, *, client_id: str, status_topic: str,
                 subscriptions: tuple[str, ...], loop: asyncio.AbstractEventLoop,
                 callbacks: LinkCallbacks) -> None:
        self.broker = broker
        self._status_topic = status_topic
        self._subscriptions = subscriptions
        self._loop = loop
        self._callbacks = callbacks
        self.connected = False
        self._outage_since: float | None = None
        self._outage_logged = False
        self._own_mids: set[int] = set()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if broker.username:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set_context(ssl.create_default_context())
        client.will_set(status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        # The outbox bounds what is in flight; paho's own limit would refuse silently.
        client.max_queued_messages_set(0)
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_publish = self._handle_publish
        self._client = client

    def start(self) -> None:
        """Connect in the background; failures are retried with capped backoff."""
        LOG.info("MQTT: connecting to %s:%s", self.broker.host, self.broker.port)
        self._outage_since = time.monotonic()
        self._client.connect_async(self.broker.host, self.broker.port, KEEPALIVE_S)
        self._client.loop_start()

    def stop(self, timeout: float = 2.0) -> None:
        """Say ``offline`` (retained) and disconnect cleanly; blocks up to ``timeout``."""
        was_connected, self.connected = self.connected, False
        if was_connected:
            info = self._client.publish(self._status_topic, "offline", qos=1, retain=True)
            info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> bool:
        """QoS 1 publish from any thread; True when paho took it (sent, or queued to resend
        after a reconnect), False when it refused it."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        return info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)

    # -- paho callbacks (network thread) -----------------------------------------------------
    def _outage(self, what: str) -> None:
        """Log the start of an outage once, with the retry schedule."""
        if not self._outage_logged:
            self._outage_logged = True
            LOG.warning("MQTT: %s %s:%s; retrying every %d–%d s until it answers",
                        what, self.broker.host, self.broker.port, RECONNECT_MIN_S,
                        RECONNECT_MAX_S)
        if self._outage_since is None:
            self._outage_since = time.monotonic()

    def _handle_connect(
        self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self._outage(f"broker refused the connection ({reason}) at")
            return
        client.subscribe([(topic, 1) for topic in self._subscriptions])
        self._own_mids.add(client.publish(self._status_topic, "online", qos=1, retain=True).mid)
        self.connected = True
        down = time.monotonic() - self._outage_since if self._outage_since is not None else 0
        was_logged = self._outage_logged
        self._outage_since, self._outage_logged = None, False
        if was_logged:
            LOG.warning("MQTT: connected again after %.0f s; subscribed to %s", down,
                        ", ".join(self._subscriptions))
        else:
            LOG.info("MQTT: connected, subscribed to %s", ", ".join(self._subscriptions))
        self._loop.call_soon_threadsafe(self._callbacks.on_connected)

    def _handle_connect_fail(self, _client: paho.Client, _userdata: Any) -> None:
        self._outage("cannot reach the broker at")

    def _handle_disconnect(
        self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if self.connected:
            self._outage(f"disconnected ({reason}) from")
            self._loop.call_soon_threadsafe(self._callbacks.on_disconnected)
        self.connected = False

    def _handle_publish(self, _client: paho.Client, _userdata: Any, mid: int, _reason: Any,
                        _props: Any) -> None:
        if mid in self._own_mids:  # the link's own status message, not the outbox's
            self._own_mids.discard(mid)
            return
        self._loop.call_soon_threadsafe(self._callbacks.on_acked)

    def _handle_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        self._loop.call_soon_threadsafe(self._callbacks.on_message, msg.topic, msg.payload,
                                        time.monotonic(), bool(msg.retain))
