import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SyncConsole
import SyncHub
import SyncModel
import SyncNode
import SyncTesting
import Testing

/// The operator console's routes in-process (HummingbirdTesting): logins, roles, CSRF, sessions,
/// escaping, and the stores' order.
@Suite("Operator console: who may see and do what")
struct ConsoleRouterTests {
    static let password = "correct horse battery"

    static func hub(_ world: World) throws -> HubServer {
        let hub = world.hub
        _ = try hub.addOperator(name: "vera")
        try hub.setConsoleLogin(name: "vera", role: "viewer", passwordHash: try ConsolePassword.hash(password))
        _ = try hub.addOperator(name: "otto")
        try hub.setConsoleLogin(name: "otto", role: "operator", passwordHash: try ConsolePassword.hash(password))
        let server = HubServer(store: hub)
        return Console(store: hub, activity: server.activity, notSeenAfter: 60, secureCookies: false).install(on: server)
    }

    /// A browser's state: its cookies.
    final class Browser: @unchecked Sendable {
        var cookies: [String: String] = [:]
        var header: HTTPFields {
            var h = HTTPFields()
            if !cookies.isEmpty { h[.cookie] = cookies.map { "\($0)=\($1)" }.joined(separator: "; ") }
            return h
        }
        func keep(_ response: TestResponse) {
            for c in response.headers[values: .setCookie] {
                let kv = c.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { if kv[1].isEmpty { cookies[kv[0]] = nil } else { cookies[kv[0]] = kv[1] } }
            }
        }
    }

    static func text(_ r: TestResponse) -> String { String(buffer: r.body) }

    static func hidden(_ html: String, _ name: String) -> String? {
        guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    static func form(_ fields: [String: String]) -> ByteBuffer {
        ByteBuffer(string: fields.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $1)" }.joined(separator: "&"))
    }

    static func formHeaders(_ b: Browser) -> HTTPFields {
        var h = b.header
        h[.contentType] = "application/x-www-form-urlencoded"
        return h
    }

    @discardableResult
    static func login(_ client: some TestClientProtocol, _ b: Browser, name: String, password: String) async throws -> TestResponse {
        let page = try await client.execute(uri: "/console/login", method: .get, headers: b.header, body: nil)
        b.keep(page)
        let csrf = hidden(text(page), "csrf") ?? ""
        let r = try await client.execute(uri: "/console/login", method: .post, headers: formHeaders(b),
                                         body: form(["csrf": csrf, "name": name, "password": password]))
        b.keep(r)
        return r
    }

    @Test("a viewer sees the stores but cannot act: no buttons, a forged POST with her own session and token is refused")
    func viewerCannotAct() async throws {
        nonisolated(unsafe) let world = try World()
        try await world.syncAll()
        let app = Application(router: try Self.hub(world).buildRouter())
        try await app.test(.router) { client in
            let b = Browser()
            let r = try await Self.login(client, b, name: "vera", password: Self.password)
            #expect(r.status == .seeOther && b.cookies["pos_console"] != nil)
            let page = try await client.execute(uri: "/console", method: .get, headers: b.header, body: nil)
            #expect(page.status == .ok && Self.text(page).contains("data-node=\"A\""))
            let store = try await client.execute(uri: "/console/stores/A", method: .get, headers: b.header, body: nil)
            #expect(!Self.text(store).contains("id=\"revoke\""), "no button for a viewer")
            let csrf = Self.hidden(Self.text(page), "csrf") ?? ""
            let forged = try await client.execute(uri: "/console/actions/revoke", method: .post, headers: Self.formHeaders(b),
                                                  body: Self.form(["csrf": csrf, "target": "A"]))
            #expect(forged.status == .forbidden)
            #expect(try world.hub.nodes().first { $0.node == "A" }?.revoked == false)
        }
    }

    @Test("an operator revokes a token behind the CSRF token; without it nothing happens; the action is audited with her name")
    func operatorRevokes() async throws {
        nonisolated(unsafe) let world = try World()
        try await world.syncAll()
        let app = Application(router: try Self.hub(world).buildRouter())
        try await app.test(.router) { client in
            let b = Browser()
            try await Self.login(client, b, name: "otto", password: Self.password)
            let noToken = try await client.execute(uri: "/console/actions/revoke", method: .post, headers: Self.formHeaders(b), body: Self.form(["target": "A"]))
            #expect(noToken.status == .forbidden)
            #expect(try world.hub.nodes().first { $0.node == "A" }?.revoked == false)
            let confirm = try await client.execute(uri: "/console/confirm?action=revoke&target=A", method: .get, headers: b.header, body: nil)
            let csrf = try #require(Self.hidden(Self.text(confirm), "csrf"))
            let done = try await client.execute(uri: "/console/actions/revoke", method: .post, headers: Self.formHeaders(b),
                                                body: Self.form(["csrf": csrf, "target": "A"]))
            #expect(done.status == .ok && Self.text(done).contains("revoked"))
            #expect(try world.hub.nodes().first { $0.node == "A" }?.revoked == true)
            #expect(try world.hub.audit(limit: 50).contains { $0.reason.contains("revoke by operator otto") })
            // Rotating shows the new token once, and it works.
            let rotate = try await client.execute(uri: "/console/actions/rotate", method: .post, headers: Self.formHeaders(b),
                                                  body: Self.form(["csrf": csrf, "target": "B"]))
            let token = try #require(Self.text(rotate).range(of: "id=\"new-token\">").map { String(Self.text(rotate)[$0.upperBound...].prefix { $0 != "<" }) })
            #expect(try world.hub.authenticate(token: token)?.node == "B")
        }
    }

    @Test("refused: a wrong password, a store's token as a password, a session replayed after logout, a store token as a bearer; failed logins are throttled")
    func attacks() async throws {
        nonisolated(unsafe) let world = try World()
        let storeToken = try world.hub.addNode(node: "D", site: "POZ", series: "K4")
        let app = Application(router: try Self.hub(world).buildRouter())
        try await app.test(.router) { client in
            let b = Browser()
            #expect(try await Self.login(client, b, name: "otto", password: "wrong").status == .unauthorized)
            #expect(try await Self.login(client, b, name: "otto", password: storeToken).status == .unauthorized)
            #expect(try await Self.login(client, b, name: "D", password: storeToken).status == .unauthorized)
            var bearer = HTTPFields(); bearer[.authorization] = "Bearer \(storeToken)"
            let asBearer = try await client.execute(uri: "/console", method: .get, headers: bearer, body: nil)
            #expect(asBearer.status == .seeOther, "a token is not a login")
            // A cross-site form: no login cookie, no token.
            let crossSite = try await client.execute(uri: "/console/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                     body: Self.form(["name": "otto", "password": Self.password]))
            #expect(crossSite.status == .forbidden)

            let ok = Browser()
            #expect(try await Self.login(client, ok, name: "otto", password: Self.password).status == .seeOther)
            let session = try #require(ok.cookies["pos_console"])
            let page = try await client.execute(uri: "/console", method: .get, headers: ok.header, body: nil)
            let csrf = try #require(Self.hidden(Self.text(page), "csrf"))
            let out = try await client.execute(uri: "/console/logout", method: .post, headers: Self.formHeaders(ok), body: Self.form(["csrf": csrf]))
            #expect(out.status == .seeOther)
            let replay = Browser(); replay.cookies["pos_console"] = session
            #expect(try await client.execute(uri: "/console", method: .get, headers: replay.header, body: nil).status == .seeOther)
            let replayedAction = try await client.execute(uri: "/console/actions/revoke", method: .post, headers: Self.formHeaders(replay),
                                                          body: Self.form(["csrf": csrf, "target": "A"]))
            #expect(replayedAction.status == .forbidden)
            #expect(try world.hub.nodes().first { $0.node == "A" }?.revoked == false)

            // Five failures of a name within 15 minutes: the right password waits too.
            for _ in 0..<3 { try await Self.login(client, b, name: "otto", password: "wrong again") }
            let held = try await Self.login(client, b, name: "otto", password: Self.password)
            #expect(held.status == .tooManyRequests && Self.text(held).contains("Too many failed logins"))
        }
    }

    @Test("a customer named <script> or <img onerror> is shown as text, on its page and in what needs a person")
    func escaping() async throws {
        nonisolated(unsafe) let world = try World()
        let a = world.store("A")
        _ = try a.addPartner(Partner(code: "X1", kind: .business, name: "<script>alert(1)</script>", country: "PL"))
        _ = try a.addPartner(Partner(code: "X2", kind: .business, name: "<img src=x onerror=alert(2)>", country: "PL"))
        try await world.syncAll()
        let app = Application(router: try Self.hub(world).buildRouter())
        try await app.test(.router) { client in
            let b = Browser()
            try await Self.login(client, b, name: "vera", password: Self.password)
            for code in ["X1", "X2"] {
                let page = Self.text(try await client.execute(uri: "/console/customers/\(code)", method: .get, headers: b.header, body: nil))
                #expect(!page.contains("<script>alert") && !page.contains("<img src=x"), "\(page)")
                #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || page.contains("&lt;img src=x onerror=alert(2)&gt;"))
            }
            let r = try await client.execute(uri: "/console", method: .get, headers: b.header, body: nil)
            #expect(r.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
        }
    }

    @Test("stores are sorted by what needs a person: not seen, behind (largest backlog first), revoked, in sync; figures as the stores reported")
    func order() async throws {
        let world = try World(nodes: [("A", "WAW", "K1"), ("B", "KRK", "K2"), ("C", "GDA", "K3"), ("D", "POZ", "K4"), ("E", "LOD", "K5")])
        for n in ["A", "B", "C", "E"] { _ = try await world.sync(n) }
        try world.hub.revokeToken(node: "E")
        let server = try Self.hub(world)
        server.activity.pushed(node: "B", pending: 40, clockOffsetMillis: 1500, refused: 2, seconds: 0.1)
        server.activity.pushed(node: "C", pending: 7, clockOffsetMillis: nil, refused: 0, seconds: 0.1)
        try server.activity.flush(world.hub)
        let stores = try world.hub.storeOverview(notSeenAfter: 60)
        #expect(stores.map(\.node) == ["D", "B", "C", "E", "A"], "\(stores.map { "\($0.node) \($0.state)" })")
        #expect(stores[1].pendingEntries == 40 && stores[1].refused == 2 && stores[1].clockOffsetMillis == 1500)
        #expect(stores[0].state == .notSeen && stores[3].state == .revoked && stores[4].state == .inSync)
    }

    @Test("a store asked to re-baseline reads a snapshot at its next round, once; nothing it had not sent is lost")
    func rebaseline() async throws {
        let world = try World()
        let a = world.store("A")
        _ = try a.addPartner(consumer("1001"))
        try await world.syncAll()
        try world.hub.requestRebaseline(node: "A", by: "otto")
        #expect(try world.hub.storeOverview(notSeenAfter: 60).first { $0.node == "A" }?.rebaseline == true)
        _ = try a.addPartner(consumer("1002"))
        let round = try await world.sync("A")
        #expect(round.hubRestored?.hasPrefix("the operator asked") == true, "\(String(describing: round.hubRestored))")
        #expect(round.bootstrapped)
        let again = try await world.sync("A")
        #expect(again.hubRestored == nil && !again.bootstrapped, "asked once, done once")
        try await world.syncAll()
        #expect(try hubPartner(world, "1002") != nil && world.hashesAgree())
        #expect(try world.hub.audit(limit: 20).contains { $0.reason.contains("re-baseline of its pull asked by operator otto") })
    }

    @Test("revoking an operator ends her sessions; a later rotation does not bring them back")
    func revokedOperator() async throws {
        nonisolated(unsafe) let world = try World()
        let app = Application(router: try Self.hub(world).buildRouter())
        try await app.test(.router) { client in
            let b = Browser()
            try await Self.login(client, b, name: "otto", password: Self.password)
            #expect(try await client.execute(uri: "/console", method: .get, headers: b.header, body: nil).status == .ok)
            try world.hub.revokeCredential(.operator, name: "otto")
            _ = try world.hub.rotateCredential(.operator, name: "otto")
            #expect(try await client.execute(uri: "/console", method: .get, headers: b.header, body: nil).status == .seeOther)
        }
    }
}
