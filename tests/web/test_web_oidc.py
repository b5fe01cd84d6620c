"""Signing in with an OpenID Connect provider in headless Chromium: a real ``jeex serve``
configured with one provider (password sign-in switched off) and a real provider
(``oidc-provider-mock``) on loopback. Click "Sign in with Corp SSO", fill in the
provider's form, land on the projects page; a refusal comes back to the sign-in page
with its sentence.

The module starts its own server (the other browser tests' server has no provider), with
no queue worker: these tests run no step.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from jeex.db.urls import DatabaseUrls
from support.api import SECRET
from support.fakellm import ScriptedLLM
from support.oidc import Provider, running_provider
from support.servers import serve_env, start_server
from support.web import Host

pytestmark = [pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture(scope="module")
def host(
    database_urls: DatabaseUrls,
    web_llm: ScriptedLLM,
    provider: Provider,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Host]:
    folder = tmp_path_factory.mktemp("oidc-site")
    env = serve_env(
        database_urls.owner.render_as_string(hide_password=False),
        web_llm.base_url,
        folder / "data",
        SECRET,
    )
    env["JEEX_OIDC_PROVIDERS"] = json.dumps(
        [
            {
                "id": "corp",
                "name": "Corp SSO",
                "issuer": provider.issuer,
                "client_id": "jeex-web",
                "client_secret": "client-secret-of-jeex-web",
            }
        ]
    )
    env["JEEX_AUTH_PASSWORDS"] = "false"
    host = Host(start_server(env, folder), web_llm, env)
    try:
        yield host
    finally:
        host.server.proc.terminate()
        host.server.proc.wait(timeout=30)


async def _through_the_provider(page: Page, host: Host, sub: str) -> None:
    await page.goto(host.server.url)
    await expect(page.get_by_label("Password")).to_be_hidden()  # passwords are off here
    await page.get_by_role("link", name="Sign in with Corp SSO").click()
    await page.get_by_placeholder("sub").fill(sub)
    await page.get_by_role("button", name="Authorize").click()


async def test_sign_in_with_a_provider_lands_on_the_projects_page(
    host: Host, provider: Provider, browser: Browser
) -> None:
    email = f"web-{uuid.uuid4().hex[:8]}@corp.test"
    sub = f"sub-{uuid.uuid4().hex[:8]}"
    provider.set_user(sub, email=email, email_verified=True, name="Web User")
    page = await browser.new_page()
    await _through_the_provider(page, host, sub)
    await expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    await expect(page.locator("#who")).to_contain_text(email)
    await expect(page.locator("#who")).to_contain_text("(owner)")
    # The token left the address bar (and the history entry) at once.
    assert page.url.endswith("/#/projects"), page.url
    session = await page.evaluate("sessionStorage.getItem('jeex.session')")
    assert json.loads(session)["email"] == email


async def test_a_refused_sign_in_shows_why_on_the_sign_in_page(
    host: Host, provider: Provider, browser: Browser
) -> None:
    email = f"web-{uuid.uuid4().hex[:8]}@corp.test"
    sub = f"sub-{uuid.uuid4().hex[:8]}"
    provider.set_user(sub, email=email, email_verified=False)
    page = await browser.new_page()
    await _through_the_provider(page, host, sub)
    notice = page.locator(".notice")
    await expect(notice).to_contain_text(f"Corp SSO has not verified the email address {email}")
    await expect(page.get_by_role("link", name="Sign in with Corp SSO")).to_be_visible()
    assert "reason=" not in page.url
