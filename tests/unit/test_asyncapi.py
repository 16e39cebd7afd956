"""The checked-in AsyncAPI document is the one the services' code generates."""

from deploy.asyncapi import DOCUMENT, generate


def test_the_checked_in_asyncapi_document_is_current() -> None:
    assert DOCUMENT.read_text() == generate(), "contracts/asyncapi.yaml is stale: run `workforce asyncapi`"


def test_the_document_shows_every_topic_and_event_schema() -> None:
    from contracts import topics

    document = DOCUMENT.read_text()
    for topic in topics.ALL:
        assert f"address: {topic.name}\n" in document
        assert f"    {topic.event.__name__}:\n" in document
