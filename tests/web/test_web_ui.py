"""The web UI in headless Chromium against a real ``jeex serve --workers 1``.

One user's whole workflow (sign in → create a project → run step 1 and watch it stream
→ pause, resume → answer a question and re-run → version 2 and its diff → upload an
exhibit → export a ZIP and download it), the page's defences against hostile model
output (P11, P12), a phone-sized screen driven with the keyboard, and the stream
coming back by itself after the connection drops.
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from support.cli import ainvoke
from support.servers import Server, start_server
from support.templates import grant_letter
from support.web import PASSWORD, Site

# One worker for the module: its server and Chromium are started once, not once per worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

LONG = 150_000  # ms: a step of seven sections on a slowed scripted model
STEP1 = "Step 1: Business Analyst → about.md"
QUESTION = "Which platforms come first?"
EXTRACTION = {
    "key_facts": ["Families share one list", "Works offline"],
    "suggested_questions": [QUESTION],
}


async def sign_in(page: Page, site: Site) -> None:
    await page.goto(site.url)
    await page.get_by_label("Email").fill(site.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()


async def create_project(page: Page, idea: str) -> None:
    await page.get_by_label("Idea", exact=True).fill(idea)
    await page.get_by_label("Audience").fill("busy parents")
    await page.get_by_role("button", name="Create project").click()
    await expect(page.get_by_role("heading", name=STEP1)).to_be_visible()


def run_badge(page: Page) -> Locator:
    return page.locator(".step-panel .run-line .badge")


async def test_the_whole_workflow_in_a_browser(
    site: Site, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    site.llm.script_json("DocumentExtraction", EXTRACTION)
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, site)
    await expect(page.locator("#who")).to_contain_text(site.tenant)
    # The usage panel: each quota against its limit.
    month = page.locator('.usage tr[data-quota="tokens_per_month"]')
    await expect(month).to_contain_text("LLM tokens per month")
    await expect(month).to_contain_text("2,000,000")
    await expect(month.locator("meter")).to_have_attribute("max", "2000000")
    await expect(page.locator('.usage tr[data-quota="cost_per_day"]')).to_contain_text("no limit")
    await page.screenshot(path=str(screenshots / "projects.png"))
    await create_project(page, "A shared grocery list app for families")
    await expect(page.locator(".live-state")).to_have_text("● live")

    # Run step 1 on a slow model: sections appear and their text streams in.
    site.llm.seconds_per_token = 0.01
    await page.get_by_role("button", name="Run step 1", exact=True).click()
    await expect(page.locator(".step-panel .section").first).to_be_visible(timeout=30_000)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.streaming')].some(e => e.textContent.length > 40)",
        timeout=30_000,
    )
    await page.screenshot(path=str(screenshots / "workspace-running.png"), full_page=True)

    # Pause takes effect after the current section; resume finishes the run.
    await page.get_by_role("button", name="Pause").click()
    await expect(run_badge(page)).to_have_text("paused", timeout=60_000)
    done = await page.locator(".sections-count").inner_text()
    assert not done.startswith("7 / 7"), done
    site.llm.seconds_per_token = 0.0
    await page.get_by_role("button", name="Resume").click()
    await expect(run_badge(page)).to_have_text("completed", timeout=LONG)
    await expect(page.locator(".sections-count")).to_contain_text("(100 %)")

    # The document: rendered, with key facts, confidence, checklist and the question.
    await expect(page.locator("#doc-title")).to_contain_text("v1")
    await expect(page.locator(".facts")).to_contain_text("Families share one list")
    await expect(page.locator(".confidence")).to_contain_text("%")
    await expect(page.locator(".checklist li").first).to_be_visible()
    await expect(page.locator(".document h1")).to_be_visible()
    await page.screenshot(path=str(screenshots / "workspace-document.png"), full_page=True)

    # Answer the question and re-run: version 2 and a diff between the two.
    await page.get_by_label(QUESTION).fill("iOS and Android first")
    await page.get_by_role("button", name="Answer and re-run step 1").click()
    await expect(page.locator("#doc-title")).to_contain_text("v2", timeout=LONG)
    await expect(run_badge(page)).to_have_text("completed", timeout=LONG)
    await page.get_by_role("button", name="Show diff").click()
    diff = page.locator("pre.diff")
    await expect(diff).to_be_visible()
    assert await diff.locator(".add").count() > 0
    assert await diff.locator(".del").count() > 0
    await page.screenshot(path=str(screenshots / "workspace-diff.png"), full_page=True)

    # Upload an exhibit and wait for its extraction.
    exhibit = tmp_path / "interviews.md"
    exhibit.write_text("# Interviews\n\nParents forget the list at home; they want it shared.\n")
    await page.locator("#exhibit-file").set_input_files(str(exhibit))
    row = page.locator(".exhibit", has_text="interviews.md")
    await expect(row.locator(".badge")).to_have_text("ready", timeout=60_000)
    await expect(row.locator(".label")).to_have_text("E1")
    # A longer one is indexed up to the limit (3 passages on this server), and says so.
    log = tmp_path / "log.md"
    log.write_text("".join(f"Shipment {n} left the dock with {n * 7} crates of flour and rice, "
                           "and the driver signed the manifest after checking the seals.\n\n"
                           for n in range(80)))  # fmt: skip
    await page.locator("#exhibit-file").set_input_files(str(log))
    long_row = page.locator(".exhibit", has_text="log.md")
    await expect(long_row.locator(".badge")).to_have_text("partially indexed", timeout=60_000)
    await expect(long_row).to_contain_text("partially indexed: the first 3 of")

    # Export a ZIP and download it.
    await page.locator("#export-format").select_option("zip")
    await page.get_by_role("button", name="Request export").click()
    download_button = page.locator(".export").first.get_by_role("button", name="Download")
    await expect(download_button).to_be_visible(timeout=60_000)
    async with page.expect_download() as waiting:
        await download_button.click()
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert saved.suffix == ".zip"
    names = zipfile.ZipFile(io.BytesIO(saved.read_bytes())).namelist()
    assert any(name.endswith("docs/about.md") for name in names), names
    await page.screenshot(path=str(screenshots / "workspace-exhibits-exports.png"), full_page=True)


async def test_hostile_model_output_shows_as_text_and_runs_nothing(
    site: Site, browser: Browser
) -> None:
    hostile = (
        "Intro <img src=x onerror=\"window.pwned='img'\"> and "
        "<script>window.pwned='script'</script> and ![t](http://127.0.0.1:9/leak.png) end."
    )
    site.llm.script_text("XSS-CANARY", hostile)
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await sign_in(page, site)
    await create_project(page, "XSS-CANARY a list app")
    await page.get_by_role("button", name="Run step 1", exact=True).click()
    await expect(run_badge(page)).to_have_text("completed", timeout=LONG)
    document = page.locator(".document")
    await expect(document).to_contain_text("<img src=x onerror=")
    await expect(document).to_contain_text("<script>window.pwned='script'</script>")
    assert await page.locator("main img").count() == 0
    assert await page.locator("main script").count() == 0
    assert await page.evaluate("() => window.pwned === undefined")
    assert dialogs == []
    assert not [url for url in requests if not url.startswith(site.url)], requests
    response = httpx.get(site.url + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "img-src 'self'" in policy
    assert "unsafe-inline" not in policy


async def test_phone_sized_screen_with_the_keyboard_only(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    page = await browser.new_page(viewport={"width": 375, "height": 740})
    await page.goto(site.url)
    await expect(page.get_by_label("Email")).to_be_focused()
    await page.keyboard.type(site.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type("wrong password")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_have_text("wrong email or password")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    await page.screenshot(path=str(screenshots / "phone-projects.png"), full_page=True)
    # An invalid project shows the server's reason next to the form and keeps the input.
    await page.get_by_label("Idea", exact=True).fill("A list")
    await page.get_by_label("Language").fill("xx-nope")
    await page.get_by_label("Language").press("Enter")
    await expect(page.locator("form .error")).to_contain_text("language")
    await expect(page.get_by_label("Idea", exact=True)).to_have_value("A list")
    await page.get_by_label("Language").fill("en")
    await page.get_by_label("Language").press("Enter")
    await expect(page.get_by_role("heading", name=STEP1)).to_be_visible()
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways on a phone: {width}px"
    await page.screenshot(path=str(screenshots / "phone-workspace.png"))


async def test_the_stream_comes_back_by_itself_after_the_server_drops(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await sign_in(page, site)
    await create_project(page, "A shared grocery list app for families")
    live = page.locator(".live-state")
    await expect(live).to_have_text("● live")
    token = await page.evaluate("() => JSON.parse(sessionStorage.getItem('jeex.session')).token")
    project_id = page.url.rsplit("/", 1)[-1]

    site.host.server = restart_server(site, tmp_path)  # every connection drops meanwhile
    await expect(live).to_have_text("● live", timeout=60_000)
    # A run started elsewhere (the API) shows up live, without reloading the page.
    started = httpx.post(
        f"{site.url}/api/v1/projects/{project_id}/step1",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert started.status_code == 202, started.text
    await expect(run_badge(page)).to_have_text("completed", timeout=LONG)
    assert await page.evaluate("() => performance.getEntriesByType('navigation').length") == 1


def restart_server(site: Site, logs: Path) -> Server:
    port = site.server.port
    site.server.proc.terminate()
    site.server.proc.wait(timeout=30)
    return start_server(site.env, logs, "--workers", "1", port=port)


async def test_switching_tenant_shows_only_that_tenants_projects(
    site: Site, browser: Browser
) -> None:
    other = f"{site.tenant}-b"
    added = await ainvoke({**site.env, "JEEX_USER_PASSWORD": PASSWORD}, "users", "create",
                          "--email", site.email, "--tenant", other)  # fmt: skip
    assert added.returncode == 0, added.stderr
    page = await browser.new_page()
    await sign_in(page, site)
    await create_project(page, "A project of the first tenant")
    # No second sign-in: the Team panel lists the account's tenants, each with Switch.
    await page.get_by_role("button", name="Switch tenant").click()
    mine = page.locator(".team .tenants")
    await expect(mine.locator("li", has_text=site.tenant).first).to_contain_text("current")
    await mine.locator(f'li[data-tenant="{other}"]').get_by_role("button", name="Switch").click()
    await expect(page.locator("#who")).to_contain_text(f"· {other} (")
    await expect(page.get_by_text("No project yet")).to_be_visible()
    # A new tenant made here is the account's too, and it can switch into it.
    await page.get_by_label("New tenant").fill("Side project team")
    await page.get_by_role("button", name="Create", exact=True).click()
    await expect(mine.locator('li[data-tenant="side-project-team"]')).to_contain_text("owner")
    # Signing in names a tenant too; one the account does not belong to is refused.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email").fill(site.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Tenant").fill("no-such-tenant")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("no such tenant")


async def test_invite_a_colleague_who_joins_and_sees_only_that_team(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    owner = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(owner, site)
    await create_project(owner, "The team's shared grocery list")
    await owner.goto(site.url + "/#/projects")
    team = owner.locator(".team")
    colleague_email = f"colleague-{site.tenant}@x.test"
    await team.get_by_label("Email", exact=True).fill(colleague_email)
    await team.get_by_label("Role", exact=True).select_option("editor")
    await team.get_by_role("button", name="Invite").click()
    link_box = team.locator("#invite-link")
    await expect(link_box).to_have_value(re.compile(r"/#/invite/jeexinv_"))
    link = await link_box.input_value()
    await expect(team.locator(f'tr[data-invitation="{colleague_email}"]')).to_contain_text("editor")
    await owner.screenshot(path=str(screenshots / "team.png"), full_page=True)

    # The colleague opens the link in a browser of their own and makes an account.
    context = await browser.new_context()
    colleague = await context.new_page()
    await colleague.goto(link)
    await expect(colleague.get_by_role("heading", name=re.compile("^Join "))).to_be_visible()
    await expect(colleague.get_by_text("You are invited as editor")).to_be_visible()
    await colleague.get_by_label("Your name").fill("Cora")
    await colleague.get_by_label("Choose a password").fill(PASSWORD)
    await colleague.get_by_role("button", name="Create account and join").click()
    await expect(colleague.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    await expect(colleague.locator("#who")).to_contain_text(
        f"{colleague_email} · {site.tenant} (editor)"
    )
    await expect(colleague.locator("ul.projects li")).to_have_count(1)
    await expect(colleague.locator("ul.projects")).to_contain_text("shared grocery list")
    # The link worked once.
    again = await context.new_page()
    await again.goto(link)
    await expect(again.get_by_role("alert")).to_contain_text("already used")

    # The owner sees the new member, makes them a viewer, and reads it all in the log.
    await owner.reload()
    row = owner.locator(f'.team tr[data-member="{colleague_email}"]')
    await expect(row).to_contain_text("Cora")
    await row.get_by_label(f"Role of {colleague_email}").select_option("viewer")
    await expect(owner.locator("#toast")).to_contain_text("is now viewer")
    await owner.reload()
    log = owner.locator(".audit")
    await expect(log.locator('tr[data-action="member.role_changed"]')).to_contain_text(
        colleague_email
    )
    await expect(log.locator('tr[data-action="invitation.accepted"]')).to_contain_text(
        colleague_email
    )
    await expect(log.locator('tr[data-action="signin.succeeded"]').first).to_contain_text(
        site.email
    )
    await owner.screenshot(path=str(screenshots / "security-log.png"), full_page=True)
    # Not for editors and viewers: the colleague's page has no security log.
    await colleague.reload()
    await expect(colleague.locator(".team")).to_be_visible()
    await expect(colleague.locator(".audit")).to_have_count(0)


async def test_an_api_key_made_in_the_browser_works_until_revoked_there(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, site)
    panel = page.locator(".api-keys")
    await panel.get_by_label("Name").fill("nightly export")
    await panel.get_by_label("Role").select_option("viewer")
    await panel.get_by_role("button", name="Create key").click()
    shown = panel.get_by_label("Your new key: copy it now, it is not shown again")
    await expect(shown).to_have_value(re.compile(r"^jeex_"))
    key = await shown.input_value()
    row = panel.locator("tbody tr", has_text="nightly export")
    await expect(row).to_contain_text("viewer")
    await page.screenshot(path=str(screenshots / "api-keys.png"), full_page=True)

    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{site.url}/api/v1/projects", headers=headers).status_code == 200
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await row.get_by_role("button", name="Revoke").click()
    await expect(row).to_contain_text("revoked")
    assert httpx.get(f"{site.url}/api/v1/projects", headers=headers).status_code == 401


async def test_an_owner_uploads_a_template_fixes_its_error_and_sees_it_listed(
    site: Site, browser: Browser, screenshots: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, site)
    await page.get_by_role("link", name="Templates").click()
    await expect(page.get_by_role("heading", name="Document templates")).to_be_visible()
    kinds = page.locator("tr[data-kind='letter']")
    await expect(kinds).to_contain_text("Built-in")

    # A wrong type: the problem is shown with its line and field, and nothing is saved.
    source = grant_letter("site_grant").replace("target_words: 80", "target_words: many")
    await page.get_by_label("YAML").fill(source)
    await page.get_by_role("button", name="Upload").click()
    problem = page.locator(".problems li[data-line='13']")
    await expect(problem).to_contain_text("sections[0].target_words")
    await expect(page.locator("tr[data-template]")).to_have_count(0)

    await page.get_by_label("YAML").fill(grant_letter("site_grant"))
    await page.get_by_role("button", name="Upload").click()
    row = page.locator("tr[data-template='site_grant']")
    await expect(row).to_contain_text("v1")
    await expect(page.locator("tr[data-kind='site_grant']")).to_contain_text("Tenant · version 1")
    await page.screenshot(path=str(screenshots / "templates.png"), full_page=True)

    # Edit: a new version; retire: gone from the kinds, kept and flagged in the list.
    await row.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("YAML")
    await expect(editor).to_have_value(grant_letter("site_grant"))
    await editor.fill(grant_letter("site_grant", closing_words=90))
    await page.get_by_role("button", name="Save new version").click()
    await expect(row).to_contain_text("v2")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await row.get_by_role("button", name="Retire").click()
    await expect(row).to_contain_text("retired")
    await expect(page.locator("tr[data-kind='site_grant']")).to_have_count(0)


PETITION_EXHIBITS = (
    ("1.1.A", "award.md", "# Award\n\nDr. Ana Ruiz received the Lindqvist Prize 2024.\n"),
    ("1.2.B", "fellowship.md", "# Fellowship\n\nDr. Ruiz is a Fellow of the Royal Society.\n"),
    ("2.6-C", "article.md", "# Article\n\nRuiz A., Protein folding at scale, Nature 612 (2024).\n"),
)  # fmt: skip
ONMESSAGE = """async ([id, token]) => {
  // The specification's client, unchanged: one onmessage handler, no named listeners.
  const types = [];
  const source = new EventSource(
    `/api/v1/projects/${id}/events?format=message&access_token=${encodeURIComponent(token)}`);
  await new Promise((resolve) => {
    source.onmessage = (event) => {
      types.push(JSON.parse(event.data).type);
      if (types.includes("run.completed")) resolve();
    };
    setTimeout(resolve, 20000);
  });
  source.close();
  return types;
}"""


async def test_a_petition_with_three_exhibits_is_written_paused_resumed_and_downloaded(
    site: Site, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, site)
    await page.get_by_role("link", name="Documents").click()
    await page.get_by_label("Kind").select_option("petition")
    await page.get_by_label("Title").fill("EB-1A petition for Dr. Ana Ruiz")
    await page.get_by_label("Case reference").fill("2026-EB1-014")
    await page.get_by_label("Beneficiary").fill("Dr. Ana Ruiz")
    await page.get_by_label("Field of extraordinary ability").fill("computational biology")
    await page.get_by_role("button", name="Create document").click()
    await expect(
        page.get_by_role("heading", name="EB-1A petition for Dr. Ana Ruiz")
    ).to_be_visible()
    await expect(page.locator("#doc-status")).to_have_text("Not being written")

    for label, name, text in PETITION_EXHIBITS:
        path = tmp_path / name
        path.write_text(text)
        await page.get_by_label("Exhibit id").fill(label)
        await page.locator("#exhibit-file").set_input_files(str(path))
        await page.get_by_role("button", name="Upload exhibit").click()
        row = page.locator(".exhibit", has_text=name)
        await expect(row.locator(".exhibit-id")).to_have_text(label)
    for _, name, _ in PETITION_EXHIBITS:
        await expect(page.locator(".exhibit", has_text=name)).to_contain_text(
            "ready", timeout=60_000
        )

    site.llm.script_text(
        "Section: III. Criterion 2.1 – Awards",
        "Dr. Ana Ruiz received the Lindqvist Prize, a national award [1.1.A §1].",
    )
    site.llm.script_text(
        "Section: IV. Criterion 2.2 – Memberships",
        "She is a Fellow of the Royal Society of Biology [1.2.B §1].",
    )
    site.llm.script_text(
        "Section: V. Criterion 2.6 – Scholarly articles",
        "Her Nature article on protein folding is widely cited [2.6-C §1].",
    )
    site.llm.seconds_per_token = 0.01
    await page.get_by_role("button", name="Start writing").click()
    await expect(page.locator("#doc-status")).to_have_text("Being written", timeout=30_000)
    await page.get_by_role("button", name="Pause").click()
    await expect(page.locator("#doc-status")).to_have_text("Paused", timeout=60_000)
    # Asked at once; in effect once the section being written is finished (the log says so).
    await expect(page.locator(".log")).to_contain_text("Paused", timeout=60_000)
    await page.screenshot(path=str(screenshots / "document-paused.png"), full_page=True)
    site.llm.seconds_per_token = 0.0
    await page.get_by_role("button", name="Resume").click()
    await expect(page.locator("#doc-status")).to_have_text("Completed", timeout=LONG)
    await expect(page.locator("#doc-progress")).to_contain_text("100%")
    awards = page.locator('[data-section="criterion_awards"]')
    await expect(awards).to_contain_text("[1.1.A §1]")
    await expect(page.locator('[data-section="criterion_articles"]')).to_contain_text("[2.6-C §1]")
    await expect(page.locator(".log")).to_contain_text("Exhibit 1.2.B uploaded: fellowship.md")
    await page.screenshot(path=str(screenshots / "document-completed.png"), full_page=True)

    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download PDF").click()
    saved = tmp_path / "petition.pdf"
    await (await waiting.value).save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")

    # SSE for a plain EventSource.onmessage client (?format=message): every event arrives.
    document_id = page.url.rsplit("/", 1)[-1]
    token = await page.evaluate("() => JSON.parse(sessionStorage.getItem('jeex.session')).token")
    types = await page.evaluate(ONMESSAGE, [document_id, token])
    for expected in ("exhibit.added", "run.paused", "run.resumed", "run.completed"):
        assert expected in types, types
