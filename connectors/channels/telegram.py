"""The Telegram channel (python-telegram-bot 22): webhook behind the gateway, or polling.

Webhook mode checks ``X-Telegram-Bot-Api-Secret-Token`` on every update (a forged update
gets 403 and is not processed); a failed getMe or setWebhook at startup is logged and
retried in the background instead of stopping the gateway (rasa#4128). Every Bot API call
that sends something is retried with backoff on 429 and network errors, and logged.

While a message is being answered, the answer's drafts (connectors/drafts.py) show as one
message edited as the answer grows; the answer's first text replaces it by one more edit.

Each update is answered once: its ``update_id`` is claimed in the gateway's store first
(``GatewayStore.claim_event``, shared by the replicas), so an update Telegram delivers again
(a webhook call that timed out, a replica killed mid-turn, a poller restarted before it
confirmed) is acknowledged and ignored, whichever replica it reaches.

Who a message is from comes only from the update Telegram sent (checked by the secret):
a private chat is the conversation ``telegram:<chat id>``; in a group or supergroup each
person has their own, ``telegram:<chat id>:<user id>``, marked ``group`` for Rasa, because
everyone in the group reads the replies. Posts made as the group or a channel name nobody
and are not answered.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import functools
import hashlib
import hmac
import logging
import re
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultsButton,
    Update,
)
from telegram.constants import ChatAction, MessageLimit
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackContext,
    CallbackQueryHandler,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from connectors.drafts import LiveDrafts, draft_text
from connectors.errors import ChannelDeliveryFailed, GatewayError, InvalidMessage
from connectors.messages import Button, IncomingMessage, OutgoingMessage
from connectors.render import chunks, plain_with_urls
from connectors.settings import TelegramSettings
from connectors.turns import Turns, user_notice
from connectors.validation import MAX_BODY_BYTES, load_json_object, read_body
from contracts.redaction import conversation_tag, redact

logger = logging.getLogger("connectors")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CALLBACK_DATA_BYTES = 64
SEND_ATTEMPTS = 4
BACKOFF_SECONDS = 0.5
MAX_RETRY_AFTER_SECONDS = 30.0
BOOTSTRAP_MAX_DELAY = 300.0

# Telegram commands and the Rasa intents they stand for.
COMMANDS = {"start": "/greet", "help": "/help", "human": "/request_human"}
UNKNOWN_COMMAND = "I know /start, /help and /human. Or just type your question."
EDITED = (
    "I only read new messages, so I haven't acted on your edit. "
    "Please send it again as a new message if it changes your question."
)
ANONYMOUS = (
    "I can't tell who is writing when a message is sent on behalf of the group or a channel. "
    "Please write as yourself, or message me privately."
)
GROUP_CHATS = ("group", "supergroup")
_CONVERSATION = re.compile(r"telegram:(-?[0-9]{1,20})(?::[0-9]{1,20})?")
UNSUPPORTED = {
    "sticker": "Nice sticker! I can only read text, though: please type your question.",
    "voice": "I can't listen to voice or audio messages yet. Please type your question.",
    "document": (
        "I can't open files or photos here. Please type your question, "
        "or send /human to reach a colleague who can."
    ),
    "other": "I can only read text messages. Please type your question.",
}

T = TypeVar("T")
Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]


class TelegramChannel:
    """Telegram through python-telegram-bot's Application, fed by the gateway's webhook.

    Example:
        >>> channel = TelegramChannel(TelegramSettings(bot_token="123:ABC",
        ...                                            webhook_secret="s3cret"), turns)
        >>> await channel.start()  # getMe and setWebhook, retried in the background
        >>> routes = channel.routes()  # POST /telegram/webhook
    """

    name = "telegram"

    def __init__(self, settings: TelegramSettings, turns: Turns) -> None:
        self.settings = settings
        self.turns = turns
        api = settings.api_url.rstrip("/")
        builder = (
            Application.builder()
            .token(settings.bot_token)
            .base_url(f"{api}/bot")
            .base_file_url(f"{api}/file/bot")
            .request(HTTPXRequest(connection_pool_size=16, connect_timeout=5.0, read_timeout=10.0))
        )
        if settings.mode == "webhook":
            builder = builder.updater(None)
        else:
            builder = builder.get_updates_request(HTTPXRequest(read_timeout=40.0))
        self.app = builder.build()
        if settings.mode == "polling":
            # Webhook updates are claimed before they are parsed (``webhook``).
            self.app.add_handler(TypeHandler(Update, self._skip_seen), group=-1)
        self.app.add_handler(MessageHandler(filters.UpdateType.EDITED, self._edited))
        self.app.add_handler(MessageHandler(filters.TEXT, self._text))
        self.app.add_handler(CallbackQueryHandler(self._callback_query))
        self.app.add_handler(InlineQueryHandler(self._inline_query))
        self.app.add_handler(MessageHandler(filters.ALL, self._unsupported))
        self.app.add_error_handler(self._on_error)
        self.ready = asyncio.Event()
        self._bootstrap: asyncio.Task[None] | None = None
        # Drafts go to a chat id and are shown in a message id.
        self.drafts: LiveDrafts[int, int] = LiveDrafts(post=self._post_draft, edit=self._edit_draft)
        self._updates_of = f"telegram:{bot_key(settings.bot_token)}"

    @property
    def bot(self) -> ExtBot[None]:
        return self.app.bot

    def routes(self) -> list[BaseRoute]:
        if self.settings.mode != "webhook":
            return []
        return [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]

    async def start(self) -> None:
        """Start connecting to Telegram in the background; never raises."""
        self._bootstrap = asyncio.create_task(self._connect(), name="telegram-bootstrap")

    async def stop(self) -> None:
        if self._bootstrap is not None:
            self._bootstrap.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.gather(self._bootstrap, return_exceptions=True)
        try:
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
        except TelegramError as error:
            logger.warning("telegram shutdown: %s", error)

    async def _connect(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.app.initialize()
                if self.settings.mode == "polling":
                    await self.app.start()
                    assert self.app.updater is not None
                    await self.app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
                    logger.info("telegram channel polling as @%s", self.bot.username)
                else:
                    if self.settings.webhook_url:
                        await self.bot.set_webhook(
                            url=self.settings.webhook_url,
                            secret_token=self.settings.webhook_secret,
                            allowed_updates=Update.ALL_TYPES,
                        )
                    logger.info(
                        "telegram channel ready as @%s (webhook %s)",
                        self.bot.username,
                        self.settings.webhook_url or "registered elsewhere",
                    )
                self.ready.set()
                return
            except (TelegramError, AssertionError) as error:
                logger.error(
                    "telegram startup failed (%s); the gateway runs on, retrying in %.0f s",
                    error,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, BOOTSTRAP_MAX_DELAY)

    async def webhook(self, request: Request) -> Response:
        """POST /telegram/webhook: check the secret, then process the update before answering."""
        given = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.webhook_secret
        # An empty secret would accept a missing header; the settings refuse it, so does this.
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            logger.warning("telegram webhook: rejected an update with a wrong secret token")
            return JSONResponse({"error": "invalid secret token"}, status_code=403)
        try:
            data = load_json_object(await read_body(request, limit=MAX_BODY_BYTES))
        except InvalidMessage as error:
            return JSONResponse({"error": error.reason}, status_code=400)
        if not self.ready.is_set():
            # Telegram redelivers on an error status, so nothing is lost while we connect.
            return JSONResponse({"error": "telegram channel is still connecting"}, 503)
        update_id = data.get("update_id")
        if isinstance(update_id, int) and not await self.first_time(update_id):
            return Response(status_code=200)  # a redelivery: Telegram needs no second answer
        try:
            update = Update.de_json(complete_update(data), self.bot)
        except (TypeError, ValueError, KeyError) as error:
            logger.warning(
                "telegram update %s could not be parsed: %r", data.get("update_id"), error
            )
            chat_id = _raw_chat_id(data)
            if chat_id is not None:
                await self.deliver(chat_id, [OutgoingMessage(text=UNSUPPORTED["other"])])
            return Response(status_code=200)
        await self.app.process_update(update)
        return Response(status_code=200)

    async def first_time(self, update_id: int) -> bool:
        """Claim an update for this gateway; False (logged) when it was already claimed, by
        this replica or another: a redelivery, not to be answered again."""
        if await self.turns.store.claim_event(f"{self._updates_of}:{update_id}"):
            return True
        logger.info("telegram update %d already taken: a redelivery, not answered again", update_id)
        return False

    # Handlers.

    async def _skip_seen(self, update: Update, context: Context) -> None:
        """The first handler of a polled update: stop it there when it was seen before.

        Should the store fail, the error is logged (``_on_error``) and the update answered all
        the same: twice is better than never.
        """
        if not await self.first_time(update.update_id):
            raise ApplicationHandlerStop

    async def _text(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or message.text is None:
            return
        if chat.type == "channel":
            logger.info("telegram channel post ignored: nobody to answer")
            return
        if chat.type in GROUP_CHATS and (
            message.sender_chat is not None or update.effective_user is None
        ):
            await self.deliver(chat.id, [OutgoingMessage(text=ANONYMOUS)])
            return
        user_id = update.effective_user.id if update.effective_user is not None else chat.id
        language = update.effective_user.language_code if update.effective_user else None
        text = message.text
        # Commands are recognised by their text, not only by a bot_command entity:
        # Telegram's own sample updates carry "/start" without one.
        if text.startswith("/"):
            command = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if text[1:] else ""
            if command not in COMMANDS:
                await self.deliver(chat.id, [OutgoingMessage(text=UNKNOWN_COMMAND)])
                return
            await self._turn(
                chat.id, user_id, COMMANDS[command], shown=text, chat_type=chat.type,
                language=language,
            )  # fmt: skip
            return
        await self._turn(chat.id, user_id, text, chat_type=chat.type, language=language)

    async def _callback_query(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        await self._call("answerCallbackQuery", query.answer)
        payload = await self.payload_of(query.data or "")
        # A button on an inline message has no chat: the answer goes to the clicker privately.
        # In a group the click is the clicker's, whoever the button was first shown to.
        chat = query.message.chat if query.message is not None else None
        chat_id = chat.id if chat is not None else query.from_user.id
        if not payload:
            await self.deliver(chat_id, [OutgoingMessage(text=UNSUPPORTED["other"])])
            return
        chat_type = chat.type if chat is not None else "private"
        await self._turn(
            chat_id, query.from_user.id, payload, chat_type=chat_type,
            language=query.from_user.language_code,
        )  # fmt: skip

    async def _edited(self, update: Update, context: Context) -> None:
        if update.effective_chat is not None:
            await self.deliver(update.effective_chat.id, [OutgoingMessage(text=EDITED)])

    async def _unsupported(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            logger.info("telegram update %s of a kind the bot ignores", update.update_id)
            return
        if message.sticker is not None:
            kind = "sticker"
        elif message.voice is not None or message.audio is not None:
            kind = "voice"
        elif message.document is not None or message.photo:
            kind = "document"
        else:
            kind = "other"
        logger.info("telegram %s message answered with a hint", kind)
        await self.deliver(chat.id, [OutgoingMessage(text=UNSUPPORTED[kind])])

    async def _inline_query(self, update: Update, context: Context) -> None:
        query = update.inline_query
        if query is None:
            return
        button = InlineQueryResultsButton(text="Ask the assistant in a chat", start_parameter="q")
        await self._call(
            "answerInlineQuery", lambda: query.answer([], button=button, cache_time=60)
        )

    async def _on_error(self, update: object, context: Context) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("telegram update %s failed: %r", update_id, context.error)

    # The path to Rasa and back.

    async def _turn(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str,
        shown: str | None = None,
        language: str | None = None,
    ) -> None:
        group = chat_type in GROUP_CHATS
        metadata: dict[str, Any] = {"telegram": {"chat_type": chat_type}}
        if language:  # the user's Telegram language: a hint for a message of only ids
            metadata["language"] = language[:16]
        message = IncomingMessage(
            sender_id=conversation_id(chat_id, user_id if group else None),
            channel=self.name,
            text=text,
            metadata=metadata,
            shown=shown,
            client=f"telegram:user:{user_id}",
            group=group,
        )
        await self._call(
            "sendChatAction", lambda: self.bot.send_chat_action(chat_id, ChatAction.TYPING),
            attempts=1,
        )  # fmt: skip
        turn = self.drafts.begin(message.sender_id, chat_id)
        try:
            replies = await self.turns.handle(message)
        except GatewayError as error:
            logger.info(
                "telegram turn not answered for %s: %s",
                conversation_tag(message.sender_id),
                error,
            )
            replies = [OutgoingMessage(text=user_notice(error, message.text))]
        finally:
            draft = await self.drafts.finish(turn)
        await self.deliver(chat_id, replies, draft=draft)

    async def deliver(
        self, chat_id: int, replies: list[OutgoingMessage], *, draft: int | None = None
    ) -> bool:
        """Send replies to a chat: text (split at Telegram's limit), inline keyboard, photo.

        ``draft`` is the message showing this turn's answer draft: the first text is edited
        into it, keyboard included, so the answer does not appear twice; if that edit fails
        the text is sent as a new message.

        Returns whether every call went through (failures are retried, then logged).
        """
        delivered = True
        for reply in replies:
            markup = await self.keyboard(reply.buttons) if reply.buttons else None
            if reply.text or markup is not None:
                pieces = chunks(plain_with_urls(reply.text or ""), MessageLimit.MAX_TEXT_LENGTH)
                pieces = pieces or ["Please choose:"]
                for index, piece in enumerate(pieces):
                    piece_markup = markup if index == len(pieces) - 1 else None
                    if draft is not None and reply.text:
                        replaced = await self._edit(chat_id, draft, piece, piece_markup)
                        draft = None
                        if replaced:
                            continue
                    send = functools.partial(
                        self.bot.send_message, chat_id, piece, reply_markup=piece_markup
                    )
                    delivered = await self._call("sendMessage", send) is not None and delivered
            if reply.image is not None:
                photo = functools.partial(self.bot.send_photo, chat_id, reply.image)
                delivered = await self._call("sendPhoto", photo) is not None and delivered
        return delivered

    async def push(self, conversation_id: str, messages: list[OutgoingMessage]) -> None:
        """Deliver messages the user did not just ask for (an agent's reply) to their chat.

        Raises:
            ChannelDeliveryFailed: the conversation is not a Telegram chat, the channel is
                still connecting, or Telegram refused the message after retries; the
                handoff Delivery keeps it and tries again.
        """
        chat_id = chat_of(conversation_id)
        if chat_id is None:
            raise ChannelDeliveryFailed(self.name, f"not a Telegram chat: {conversation_id!r}")
        if not self.ready.is_set():
            raise ChannelDeliveryFailed(self.name, "the channel is still connecting")
        if not await self.deliver(chat_id, messages):
            raise ChannelDeliveryFailed(self.name, "Telegram did not accept the message")

    async def show_draft(self, conversation_id: str, text: str) -> bool:
        """Show the answer so far in the chat whose message is being answered.

        Returns False when no message of that chat is being answered (the draft is dropped).
        """
        return self.drafts.show(conversation_id, text)

    async def _post_draft(self, chat_id: int, text: str) -> int | None:
        # One attempt: a newer draft follows soon, and the answer waits for no retries.
        shown = draft_text(plain_with_urls(text), MessageLimit.MAX_TEXT_LENGTH)
        send = functools.partial(self.bot.send_message, chat_id, shown)
        sent = await self._call("sendMessage", send, attempts=1)
        return sent.message_id if sent is not None else None

    async def _edit_draft(self, chat_id: int, message_id: int, text: str) -> bool:
        shown = draft_text(plain_with_urls(text), MessageLimit.MAX_TEXT_LENGTH)
        return await self._edit(chat_id, message_id, shown, attempts=1)

    async def _edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        attempts: int = SEND_ATTEMPTS,
    ) -> bool:
        """Replace a sent message's text and keyboard; returns whether the message shows them."""

        async def edit() -> bool:
            try:
                await self.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, reply_markup=markup
                )
            except BadRequest as error:
                # Telegram refuses an edit that changes nothing: the message already says it.
                if "message is not modified" not in error.message.lower():
                    raise
            return True

        return await self._call("editMessageText", edit, attempts=attempts) is not None

    async def keyboard(self, buttons: list[Button]) -> InlineKeyboardMarkup:
        """One button per row; payloads over Telegram's 64-byte callback_data go by a short key."""
        rows = []
        for button in buttons:
            rows.append(
                [InlineKeyboardButton(button.title, callback_data=await self._data(button))]
            )
        return InlineKeyboardMarkup(rows)

    async def _data(self, button: Button) -> str:
        data = "p:" + button.payload
        if len(data.encode()) <= CALLBACK_DATA_BYTES:
            return data
        return await self.turns.store.shorten(button.payload)

    async def payload_of(self, data: str) -> str | None:
        """The button payload behind callback_data (older or foreign buttons: the data itself)."""
        if data.startswith("p:"):
            return data[2:]
        if data.startswith("k:"):
            return await self.turns.store.expand(data)
        return data or None

    async def _call(
        self, method: str, call: Callable[[], Awaitable[T]], *, attempts: int = SEND_ATTEMPTS
    ) -> T | None:
        """Run one Bot API call, retrying 429 and network errors with backoff; log every failure.

        Returns the call's result, or None when it failed for good (already logged).
        """
        reason: TelegramError
        for attempt in range(1, attempts + 1):
            try:
                return await call()
            except RetryAfter as error:
                delay, reason = min(_retry_after_seconds(error), MAX_RETRY_AFTER_SECONDS), error
            except BadRequest as error:
                logger.error("telegram %s refused: %s", method, redact(str(error)))
                return None
            except NetworkError as error:
                delay, reason = BACKOFF_SECONDS * 2 ** (attempt - 1), error
            except TelegramError as error:
                logger.error("telegram %s failed: %s", method, redact(str(error)))
                return None
            if attempt < attempts:
                logger.warning(
                    "telegram %s failed (%s); retrying in %.1f s (attempt %d of %d)",
                    method, reason, delay, attempt, attempts,
                )  # fmt: skip
                await asyncio.sleep(delay)
            else:
                logger.log(
                    logging.ERROR if attempts > 1 else logging.WARNING,
                    "telegram %s failed after %d attempt(s) (%s); not delivered",
                    method, attempts, reason,
                )  # fmt: skip
        return None


def conversation_id(chat_id: int, user_id: int | None = None) -> str:
    """``telegram:<chat id>`` for a private chat, ``telegram:<chat id>:<user id>`` for one
    person in a group.

    Example:
        >>> conversation_id(-100123, 42)
        'telegram:-100123:42'
    """
    return f"telegram:{chat_id}" if user_id is None else f"telegram:{chat_id}:{user_id}"


def bot_key(token: str) -> str:
    """What names a bot in the claims of its updates (update ids are per bot): its id, the
    token's public part before the colon, or a hash of a token without one.

    Example:
        >>> bot_key("123456:ABC-secret")
        '123456'
    """
    bot_id, colon, _ = token.partition(":")
    if colon and bot_id.isdigit():
        return bot_id
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def chat_of(conversation: str) -> int | None:
    """The chat a Telegram conversation id writes to, or None if it is not one.

    Example:
        >>> chat_of("telegram:-100123:42"), chat_of("telegram:1111111"), chat_of("slack:T:U")
        (-100123, 1111111, None)
    """
    match = _CONVERSATION.fullmatch(conversation)
    return int(match.group(1)) if match else None


def _retry_after_seconds(error: RetryAfter) -> float:
    # RetryAfter.retry_after warns about its type changing in a future release; either is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# Fields that Bot API 3.0+ made required but Telegram's own published sample updates predate.
_USER_KEYS = {"from", "forward_from", "via_bot", "user"}
_FILE_KEYS = {"audio", "voice", "document", "sticker", "video", "video_note", "animation"}


def complete_update(data: dict[str, Any]) -> dict[str, Any]:
    """Fill fields older clients and Telegram's sample updates omit, so parsing never fails."""

    def walk(value: Any, key: str | None) -> Any:
        if isinstance(value, list):
            return [walk(item, key) for item in value]
        if not isinstance(value, dict):
            return value
        value = {k: walk(v, k) for k, v in value.items()}
        if key in _USER_KEYS:
            value.setdefault("is_bot", False)
            value.setdefault("first_name", value.get("title", ""))
        if key == "chat":
            value.setdefault("type", "private" if value.get("id", 0) > 0 else "group")
        if (key in _FILE_KEYS or key == "photo") and "file_id" in value:
            value.setdefault("file_unique_id", value["file_id"])
        if key == "callback_query":
            value.setdefault("chat_instance", "")
        return value

    completed: dict[str, Any] = walk(data, None)
    return completed


def _raw_chat_id(data: dict[str, Any]) -> int | None:
    for key in ("message", "edited_message", "channel_post"):
        chat = data.get(key, {}).get("chat", {}) if isinstance(data.get(key), dict) else {}
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
    return None
