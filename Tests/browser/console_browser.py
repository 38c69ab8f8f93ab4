#!/usr/bin/env python3
"""The operator console in a real browser (Debian's chromium and chromium-driver, through
Selenium), driven by Tests/IntegrationTests/ConsoleBrowserTests.swift, which starts the hub and
the stores and checks the result.

    python console_browser.py PLAN.json

PLAN: {"url", "viewer": [name, password], "operator": [name, password], "stopped": NODE,
"backlog": {NODE: ENTRIES}, "revoke": NODE, "out": FOLDER}. Screenshots of each page go to
FOLDER; what was seen is printed as JSON; a failed check exits 1 with the reason.
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def main():
    plan = json.load(open(sys.argv[1]))
    url, out = plan["url"], plan["out"]
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    seen = {}
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    def shot(name):
        driver.save_screenshot("%s/%s.png" % (out, name))

    def wait_for(suffix):
        try:
            WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith(suffix))
        except Exception:  # noqa: BLE001 - the check below reports where the browser is
            pass
        url_now = driver.current_url
        return url_now.endswith(suffix), url_now

    def find(element_id):
        # After a click the next page may not have loaded yet (a busy machine): wait for it.
        return WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.ID, element_id)))

    def login(name, password):
        driver.get(url + "/console")
        ok, where = wait_for("/console/login")
        check(ok, "an anonymous visit goes to the login page: " + where)
        find("name").send_keys(name)
        find("password").send_keys(password)
        find("login").click()
        ok, where = wait_for("/console")
        check(ok, "%s is logged in: %s" % (name, where))

    try:
        driver.set_page_load_timeout(20)
        driver.get(url + "/console/login")
        shot("01-login")
        login(*plan["viewer"])
        find("stores")
        shot("02-stores-viewer")
        rows = driver.find_elements(By.CSS_SELECTOR, "#stores tbody tr")
        seen["order"] = [(r.get_attribute("data-node"), r.get_attribute("data-state")) for r in rows]
        check(rows and rows[0].get_attribute("data-node") == plan["stopped"] and rows[0].get_attribute("data-state") == "not-seen",
              "the stopped store is on top as not seen: %s" % seen["order"])
        for node, entries in plan["backlog"].items():
            row = driver.find_element(By.CSS_SELECTOR, '#stores tr[data-node="%s"]' % node)
            pending = row.find_element(By.CSS_SELECTOR, "td.pending").text
            seen["pending_" + node] = pending
            check(pending == str(entries), "store %s shows %s entries waiting, as it reported %s" % (node, pending, entries))
            check(row.get_attribute("data-state") == "behind", "store %s is behind" % node)
        driver.get(url + "/console/stores/" + plan["revoke"])
        find("chart")
        shot("03-store-viewer")
        check(not driver.find_elements(By.ID, "revoke"), "no revoke button for a viewer")
        check(driver.find_elements(By.ID, "chart"), "the store's chart is drawn")
        # A forged POST with the viewer's own session and form token: refused.
        csrf = driver.find_element(By.CSS_SELECTOR, "header input[name=csrf]").get_attribute("value")
        driver.execute_script("""
            const f = document.createElement('form'); f.method = 'post'; f.action = '/console/actions/revoke';
            for (const [k, v] of [['csrf', arguments[0]], ['target', arguments[1]]]) {
              const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }
            document.body.appendChild(f); f.submit();""", csrf, plan["revoke"])
        try:
            WebDriverWait(driver, 20).until(lambda d: "Refused" in d.find_element(By.TAG_NAME, "body").text)
        except Exception:  # noqa: BLE001 - the check below says what the page shows
            pass
        body = driver.find_element(By.TAG_NAME, "body").text
        seen["forged"] = body[:200]
        check("Refused" in body and "operator role" in body, "a viewer's POST is refused: " + body[:200])
        shot("04-forged-refused")
        find("logout").click()
        ok, where = wait_for("/console/login")
        check(ok, "logged out: " + where)

        login(*plan["operator"])
        driver.get(url + "/console/stores/" + plan["revoke"])
        shot("05-store-operator")
        find("revoke").click()
        find("confirm")
        shot("06-confirm")
        find("confirm").click()
        message = find("message").text
        seen["revoked"] = message
        check("revoked" in message, "the token is revoked: " + message)
        shot("07-done")
        driver.get(url + "/console")
        find("stores")
        shot("08-stores-operator")
        row = driver.find_element(By.CSS_SELECTOR, '#stores tr[data-node="%s"]' % plan["revoke"])
        check(row.get_attribute("data-state") == "revoked", "the store is listed as revoked")
        # On a tablet held upright: the page fits its width (the table scrolls inside its box).
        driver.set_window_size(768, 1024)
        driver.get(url + "/console")
        find("stores")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        seen["tablet_width"] = width
        check(width <= 800, "the page fits a tablet's width: %s px" % width)
        shot("09-stores-tablet")
    except Exception as e:  # noqa: BLE001 - report any browser failure as the test's reason
        failures.append("browser: %r" % e)
        try:
            shot("99-failure")
        except Exception:  # noqa: BLE001
            pass
    finally:
        driver.quit()
    print(json.dumps({"seen": seen, "failures": failures}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
