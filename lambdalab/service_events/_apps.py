"""Applications: Cognito triggers, Lex and Alexa, IoT rules and detectors, Step Functions."""

from __future__ import annotations

import secrets
import string
from typing import Any, Literal

from ._common import (
    DEFAULT_REGION,
    epoch_ms,
    iso_s,
    new_uuid,
    now,
)
from ._registry import ASYNC, SYNC, event_source

_UPPER_ALNUM = string.ascii_uppercase + string.digits


def _random_id(length: int, alphabet: str = _UPPER_ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@event_source("cognito", SYNC)
def cognito(
    *,
    user_name: str = "janedoe",
    email: str = "janedoe@example.com",
    trigger_source: Literal[
        "PreSignUp_SignUp", "PreSignUp_AdminCreateUser", "PreSignUp_ExternalProvider"
    ] = "PreSignUp_SignUp",
    user_pool_id: str | None = None,
    region: str = DEFAULT_REGION,
) -> dict[str, Any]:
    """A Cognito user pool's pre sign-up trigger: the function may accept or refuse a sign-up.

    Shape: https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-sign-up.html

    :param user_name: the user signing up.
    :param email: the user's email attribute.
    :param trigger_source: how the user is being created.
    :param user_pool_id: the user pool's id [default: the region, "_" and nine characters].
    :param region: the user pool's region.
    """
    return {
        "version": "1",
        "triggerSource": trigger_source,
        "region": region,
        "userPoolId": user_pool_id
        or f"{region}_{_random_id(9, string.ascii_letters + string.digits)}",
        "userName": user_name,
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": _random_id(26, string.ascii_lowercase + string.digits),
        },
        "request": {"userAttributes": {"email": email}, "validationData": None},
        "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    }


def _lex_intent(name: str, slots: dict[str, str]) -> dict[str, Any]:
    """An intent with each slot filled as Lex V2 reports a recognised value."""
    return {
        "name": name,
        "slots": {
            slot: {
                "shape": "Scalar",
                "value": {
                    "originalValue": value,
                    "interpretedValue": value,
                    "resolvedValues": [value],
                },
            }
            for slot, value in slots.items()
        },
        "state": "InProgress",
        "confirmationState": "None",
    }


@event_source("lex", SYNC)
def lex(
    *,
    input_transcript: str = "I would like to order some roses",
    intent: str = "OrderFlowers",
    slots: dict[str, str] | None = None,
    bot: str = "OrderFlowersBot",
    invocation_source: Literal["DialogCodeHook", "FulfillmentCodeHook"] = "DialogCodeHook",
    locale: str = "en_US",
) -> dict[str, Any]:
    """A turn of a conversation with an Amazon Lex V2 bot, sent to its code hook.

    Shape: https://docs.aws.amazon.com/lexv2/latest/dg/lambda-input-format.html

    :param input_transcript: what the user said or typed.
    :param intent: the intent Lex recognised.
    :param slots: the slots filled so far, name to value [default: {"FlowerType": "roses"}].
    :param bot: the bot's name.
    :param invocation_source: DialogCodeHook (during the dialog) or FulfillmentCodeHook.
    :param locale: the bot locale that handled the input.
    """
    recognised = _lex_intent(intent, slots if slots is not None else {"FlowerType": "roses"})
    return {
        "messageVersion": "1.0",
        "invocationSource": invocation_source,
        "inputMode": "Text",
        "responseContentType": "text/plain; charset=utf-8",
        "sessionId": str(secrets.randbelow(10**15)),
        "inputTranscript": input_transcript,
        "bot": {
            "id": _random_id(10),
            "name": bot,
            "aliasId": "TSTALIASID",
            "aliasName": "TestBotAlias",
            "localeId": locale,
            "version": "DRAFT",
        },
        "interpretations": [
            {"intent": recognised, "nluConfidence": 0.95, "interpretationSource": "Lex"}
        ],
        "requestAttributes": {},
        "sessionState": {
            "sessionAttributes": {},
            "activeContexts": [],
            "intent": recognised,
            "originatingRequestId": new_uuid(),
        },
    }


def _alexa_request(
    request_type: str, intent: str, slots: dict[str, str], locale: str
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "type": request_type,
        "requestId": f"amzn1.echo-api.request.{new_uuid()}",
        "timestamp": iso_s(now()),
        "locale": locale,
    }
    if request_type == "IntentRequest":
        request["dialogState"] = "COMPLETED"
        request["intent"] = {
            "name": intent,
            "confirmationStatus": "NONE",
            "slots": {
                name: {"name": name, "value": value, "confirmationStatus": "NONE"}
                for name, value in slots.items()
            },
        }
    if request_type == "SessionEndedRequest":
        request["reason"] = "USER_INITIATED"
    return request


@event_source("alexa", SYNC)
def alexa(
    *,
    request_type: Literal[
        "LaunchRequest", "IntentRequest", "SessionEndedRequest"
    ] = "IntentRequest",
    intent: str = "HelloWorldIntent",
    slots: dict[str, str] | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """A request from Alexa to a custom skill's function: a launch, an intent, or an end.

    Shape: https://developer.amazon.com/en-US/docs/alexa/custom-skills/request-and-response-json-reference.html

    :param request_type: LaunchRequest, IntentRequest or SessionEndedRequest.
    :param intent: the intent of an IntentRequest.
    :param slots: the intent's slots, name to value.
    :param locale: the user's locale.
    """
    application = {"applicationId": f"amzn1.ask.skill.{new_uuid()}"}
    user = {"userId": f"amzn1.ask.account.{_random_id(64)}"}
    return {
        "version": "1.0",
        "session": {
            "new": request_type == "LaunchRequest",
            "sessionId": f"amzn1.echo-api.session.{new_uuid()}",
            "application": application,
            "attributes": {},
            "user": user,
        },
        "context": {
            "System": {
                "application": application,
                "user": user,
                "device": {
                    "deviceId": f"amzn1.ask.device.{_random_id(64)}",
                    "supportedInterfaces": {},
                },
                "apiEndpoint": "https://api.amazonalexa.com",
                "apiAccessToken": secrets.token_urlsafe(96),
            }
        },
        "request": _alexa_request(request_type, intent, slots or {}, locale),
    }


@event_source("iot", ASYNC)
def iot(*, message: dict[str, Any] | None = None) -> dict[str, Any]:
    """What an AWS IoT rule's SQL SELECT made of a device's MQTT message: free-form JSON.

    With ``SELECT * FROM 'topic'`` the function receives the message as published.

    Shape: https://docs.aws.amazon.com/lambda/latest/dg/services-iot.html

    :param message: the selected message [default: {"row": "10", "pos": "23", "moisture": "75"}].
    """
    return dict(message) if message is not None else {"row": "10", "pos": "23", "moisture": "75"}


@event_source("iot-events", ASYNC)
def iot_events(
    *,
    detector_model: str = "myDetectorModel",
    key_value: str = "100009",
    event_name: str = "myChargedEvent",
    input_name: str = "myVoltageInput",
    state: str = "Charged",
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An IoT Events detector's Lambda action firing: the detector, its state and the trigger.

    Shape: https://docs.aws.amazon.com/lambda/latest/dg/services-iotevents.html

    :param detector_model: the detector model's name.
    :param key_value: the key identifying this detector instance (e.g. a device id).
    :param event_name: the detector model's event whose action fired.
    :param input_name: the input whose message triggered the event.
    :param state: the detector's state when the event fired.
    :param variables: the detector's variables.
    """
    payload = {
        "detector": {
            "detectorModelName": detector_model,
            "detectorModelVersion": "1",
            "keyValue": key_value,
        },
        "eventTriggerDetails": {
            "triggerType": "Message",
            "inputName": input_name,
            "messageId": new_uuid(),
        },
        "actionExecutionId": new_uuid(),
        "state": {"variables": variables or {}, "stateName": state, "timers": {}},
    }
    return {"event": {"eventName": event_name, "eventTime": epoch_ms(now()), "payload": payload}}


@event_source("stepfunctions", SYNC)
def stepfunctions(*, input: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Step Functions Task state's input: free-form JSON, whatever the state passes on.

    Step Functions adds no envelope: the event is the state's input after InputPath and
    Parameters (or Arguments) shaped it, and the function's result becomes the state's output.

    Shape: https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html

    :param input: the state's input [default: {"orderId": "1234", "amount": 42}].
    """
    return dict(input) if input is not None else {"orderId": "1234", "amount": 42}
