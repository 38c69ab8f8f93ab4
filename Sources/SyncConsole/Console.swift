import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncAccounting
import SyncHub
import SyncModel
import SyncStore

/// The operator console (docs/console.md): `/console` on the hub's port. Server-rendered HTML,
/// no script, nothing loaded from elsewhere. Operators log in with name and password
/// (`poshub operator add --role --password-file`); a session cookie (HttpOnly,
/// SameSite=Strict, Secure under TLS, 8 hours) and a CSRF token on every form; five failed
/// logins of a name or from an address in 15 minutes hold further tries until the window
/// passes. Viewers read; operators also act, each action behind a confirmation and audited
/// with their name.
public struct Console: Sendable {
    public let store: HubStore
    public let activity: NodeActivity
    /// A store not seen for longer than this is listed as not seen.
    public var notSeenAfter: Int
    /// Cookies carry `Secure` (the hub serves TLS).
    public var secureCookies: Bool
    public var sessionSeconds: Double = 8 * 3600
    public var failureWindow: Double = 15 * 60
    public var maxFailures = 5

    public init(store: HubStore, activity: NodeActivity, notSeenAfter: Int, secureCookies: Bool) {
        self.store = store; self.activity = activity; self.notSeenAfter = notSeenAfter; self.secureCookies = secureCookies
    }

    /// A hash no password matches, checked for names that have none.
    static let dummyHash = (try? ConsolePassword.hash(HubStore.newToken())) ?? "scrypt$16384$8$1$AAAA$AAAA"

    static let sessionCookie = "pos_console"
    static let loginCookie = "pos_console_login"

    /// Adds the console's routes to the hub's router.
    public func install(on server: HubServer) -> HubServer {
        var server = server
        let console = self
        server.routeExtensions.append { router in console.routes(router) }
        return server
    }

    func routes(_ router: Router<HubRequestContext>) {
        let console = self
        router.get("/console/console.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                     body: .init(byteBuffer: ByteBuffer(string: ConsoleTemplates.css)))
        }
        router.get("/console/login") { request, _ in console.loginPage(request, error: nil, name: "") }
        router.post("/console/login") { request, context in try await console.login(request, context) }
        router.post("/console/logout") { request, _ in try await console.logout(request) }
        // A link may log out too: the session cookie is SameSite=Strict, so another site's
        // link arrives without it and ends nothing.
        router.get("/console/logout") { request, _ in
            if let id = Self.cookies(request)[Self.sessionCookie] { try console.store.endConsoleSession(idHash: HubStore.hashToken(id)) }
            return console.redirect("/console/login", cookies: [console.cookie(Self.sessionCookie, "", maxAge: 0)])
        }
        router.get("/console") { request, _ in try await console.page(request) { s in try console.overview(s) } }
        // A record's page: /console/<records>/<key>, the key decoded from its path segment.
        let recordPages: [(String, @Sendable (ConsoleSession, String) throws -> Response)] = [
            ("stores", { try console.storePage($0, node: $1) }),
            ("customers", { try console.customerPage($0, code: $1) }),
            ("documents", { try console.documentPage($0, id: $1) }),
            ("cases", { try console.casePage($0, id: $1) }),
        ]
        for (records, render) in recordPages {
            router.get("/console/\(records)/:key") { request, context in
                let key = PathSegment.decoded(context.parameters.get("key"))
                return try await console.page(request) { s in try render(s, key) }
            }
        }
        router.get("/console/audit") { request, _ in
            try await console.page(request) { s in
                let kind = request.uri.queryParameters.get("kind").flatMap(AuditKind.init(rawValue:))
                let records = try console.store.audit(kind: kind, limit: 200)
                return console.html(title: "Audit", template: "record", [
                    "title": "Audit, the last \(records.count)\(kind.map { " of kind \($0.rawValue)" } ?? "")",
                    "related": [["heading": "Newest first", "items": records.map { "\($0.at) \($0.node) \($0.kind) \($0.entity) \($0.key): \($0.reason)" }]],
                ], session: s)
            }
        }
        router.get("/console/confirm") { request, _ in try await console.page(request) { s in try console.confirmPage(s, request) } }
        router.post("/console/actions/:action") { request, context in
            try await console.act(request, action: context.parameters.get("action") ?? "")
        }
    }

    // MARK: Responses

    static let securityHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .cacheControl: "no-store",
        HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
    ]

    func html(_ status: HTTPResponse.Status = .ok, title: String, template: String, _ object: [String: Any], session: ConsoleSession?,
              cookies: [String] = []) -> Response {
        // A nil in `object` would render as "nil": leave the key out instead.
        let object = object.filter { !Self.isNil($0.value) }
        let body = ConsoleTemplates.library.render(object, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body]
        if let session {
            layout["signedIn"] = true; layout["operatorName"] = session.operatorName; layout["role"] = session.role; layout["csrf"] = session.csrf
        }
        let page = ConsoleTemplates.library.render(layout, withTemplate: "layout") ?? ""
        var headers = Self.securityHeaders
        for c in cookies { headers.append(HTTPField(name: .setCookie, value: c)) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    static func isNil(_ value: Any) -> Bool {
        let m = Mirror(reflecting: value)
        return m.displayStyle == .optional && m.children.isEmpty
    }

    func redirect(_ location: String, cookies: [String] = []) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        for c in cookies { headers.append(HTTPField(name: .setCookie, value: c)) }
        return Response(status: .seeOther, headers: headers)
    }

    func cookie(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/console; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (secureCookies ? "; Secure" : "")
    }

    static func cookies(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                // The first of two cookies of one name is the most specific (RFC 6265, 5.4).
                if kv.count == 2, out[kv[0]] == nil { out[kv[0]] = kv[1] }
            }
        }
        return out
    }

    /// A form body (`application/x-www-form-urlencoded`), at most 64 KiB.
    static func form(_ request: Request) async throws -> [String: String] {
        var request = request
        let body = try await request.collectBody(upTo: 64 << 10)
        var out: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if kv.count == 2 { out[kv[0]] = kv[1] } else if kv.count == 1 { out[kv[0]] = "" }
        }
        return out
    }

    func session(_ request: Request) throws -> ConsoleSession? {
        guard let id = Self.cookies(request)[Self.sessionCookie], !id.isEmpty, id.count < 100 else { return nil }
        return try store.consoleSession(idHash: HubStore.hashToken(id))
    }

    /// A page for a signed-in operator; anyone else goes to the login page.
    /// The page's queries run off the hub's request threads (`offload`), as the API's do.
    func page(_ request: Request, _ body: @escaping @Sendable (ConsoleSession) throws -> Response) async throws -> Response {
        let console = self
        return try await offload {
            guard let s = try console.session(request) else { return console.redirect("/console/login") }
            try? console.activity.flush(console.store)
            do { return try body(s) } catch let e as HubError {
                return console.html(e.status == .notFound ? .notFound : .badRequest, title: "Not possible", template: "message",
                                    ["title": "Not possible", "text": e.description, "back": "/console"], session: s)
            }
        }
    }

    // MARK: Login

    func loginPage(_ request: Request, error: String?, name: String, status: HTTPResponse.Status = .ok) -> Response {
        // A second login tab keeps the token the first one got.
        let kept = Self.cookies(request)[Self.loginCookie].flatMap { $0.count == 68 && $0.hasPrefix("pos_") && $0.dropFirst(4).allSatisfy(\.isHexDigit) ? $0 : nil }
        let csrf = kept ?? HubStore.newToken()
        return html(status, title: "Log in", template: "login", ["csrf": csrf, "error": error as Any, "name": name], session: nil,
                    cookies: [cookie(Self.loginCookie, csrf, maxAge: 3600)])
    }

    func login(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let form = try await Self.form(request)
        let name = String((form["name"] ?? "").prefix(64)), password = form["password"] ?? ""
        // The login form's token must match its cookie: a form posted from another site has neither.
        guard let token = form["csrf"], !token.isEmpty, token == Self.cookies(request)[Self.loginCookie] else {
            return loginPage(request, error: "The form expired or came from elsewhere; log in again.", name: name, status: .forbidden)
        }
        let address = context.remoteAddress?.ipAddress ?? "local"
        let failures = try store.loginFailures(name: name, address: address, window: failureWindow)
        if failures.count >= maxFailures {
            let wait = Int(((failures.oldest ?? 0) + failureWindow - Date().timeIntervalSince1970).rounded(.up))
            return loginPage(request, error: "Too many failed logins for this name or from this address; try again in \(max(wait, 1)) seconds.",
                             name: name, status: .tooManyRequests)
        }
        let store = self.store
        let verified = try await offload { () -> ConsoleOperator? in
            let op = try store.consoleOperator(name)
            // An unknown name costs the same check as a known one: the time tells nothing.
            let hash = op.flatMap { $0.revoked ? nil : $0.passwordHash } ?? Self.dummyHash
            return ConsolePassword.verify(password, against: hash) && op?.passwordHash == hash ? op : nil
        }
        guard let op = verified else {
            try store.noteLoginFailure(name: name, address: address, window: failureWindow)
            return loginPage(request, error: "Name or password is not right.", name: name, status: .unauthorized)
        }
        let id = HubStore.newToken(), csrf = HubStore.newToken()
        try store.startConsoleSession(idHash: HubStore.hashToken(id), operatorName: op.name, csrf: csrf, seconds: sessionSeconds)
        return redirect("/console", cookies: [cookie(Self.loginCookie, "", maxAge: 0), cookie(Self.sessionCookie, id, maxAge: Int(sessionSeconds))])
    }

    func logout(_ request: Request) async throws -> Response {
        let form = try await Self.form(request)
        guard let id = Self.cookies(request)[Self.sessionCookie], let s = try store.consoleSession(idHash: HubStore.hashToken(id)) else {
            return redirect("/console/login", cookies: [cookie(Self.sessionCookie, "", maxAge: 0)])
        }
        guard form["csrf"] == s.csrf else { return forbidden(s, "The form's token is missing or wrong.") }
        try store.endConsoleSession(idHash: HubStore.hashToken(id))
        return redirect("/console/login", cookies: [cookie(Self.sessionCookie, "", maxAge: 0)])
    }

    func forbidden(_ s: ConsoleSession?, _ text: String) -> Response {
        html(.forbidden, title: "Refused", template: "message", ["title": "Refused", "text": text, "back": "/console"], session: s)
    }

    // MARK: Pages

    /// A time as the page shows it: today's as `05:45:27`, older ones as `2026-12-05 17:02` (UTC).
    static func ago(_ iso: String?) -> String {
        guard let iso else { return "never" }
        let today = ISO8601DateFormatter().string(from: Date()).prefix(10)
        return iso.hasPrefix(today) ? String(iso.dropFirst(11).prefix(8)) : String(iso.prefix(16)).replacingOccurrences(of: "T", with: " ")
    }

    static func offset(_ ms: Int64?) -> String {
        guard let ms else { return "–" }
        let tenths = (Double(ms) / 100).rounded()
        return tenths == 0 ? "0.0 s" : String(format: "%+.1f s", tenths / 10)
    }

    static func duration(_ seconds: Int) -> String {
        seconds >= 86_400 ? "\(seconds / 86_400) d" : seconds >= 3600 ? "\(seconds / 3600) h" : seconds >= 60 ? "\(seconds / 60) min" : "\(seconds) s"
    }

    static func row(_ s: StoreStatus) -> [String: Any] {
        ["node": s.node, "site": s.site, "region": s.region.isEmpty ? "(all)" : s.region, "state": s.state.rawValue,
         "stateLabel": s.state == .notSeen ? "not seen" + (s.secondsSinceSeen.map { " for \(duration($0))" } ?? " yet") : s.state.label,
         "lastPush": ago(s.lastPushAt), "lastPull": ago(s.lastPullAt), "pending": s.pendingEntries, "waiting": s.waiting,
         "clockOffset": offset(s.clockOffsetMillis), "refused": s.refused, "lastError": s.lastError ?? "", "rebaseline": s.rebaseline]
    }

    func overview(_ s: ConsoleSession) throws -> Response {
        let stores = try store.storeOverview(notSeenAfter: notSeenAfter)
        let attention = try store.attention()
        var accounting: String? = nil
        if let config = try store.accountingConfig() {
            let runs = try store.accountingRuns(limit: 1)
            let next = try? config.invoiceSchedule.next(after: Date())
            accounting = "last run \(runs.first.map { "\($0.startedAt) (\($0.outcome))" } ?? "none"), next run \(next.map { $0.formatted(.iso8601) } ?? "–"), "
                + "\(try store.openAccountingIssues().count) open errors"
        }
        let count = { (state: StoreStatus.State) in stores.filter { $0.state == state }.count }
        return html(title: "Stores", template: "overview", [
            "stores": stores.map(Self.row), "count": stores.count, "notSeen": count(.notSeen), "behind": count(.behind),
            "revoked": count(.revoked), "inSync": count(.inSync), "notSeenAfter": Self.duration(notSeenAfter),
            "attention": attention.map { ["kind": $0.kind, "title": $0.title, "detail": $0.detail, "link": $0.link, "at": $0.at] },
            "attentionCount": attention.count, "accounting": accounting as Any,
        ], session: s)
    }

    func storePage(_ s: ConsoleSession, node: String) throws -> Response {
        guard let status = try store.storeOverview(notSeenAfter: notSeenAfter).first(where: { $0.node == node }) else {
            throw HubError.invalid(FieldError(field: "node", reason: "no store \(node) is registered", code: .notFound))
        }
        let now = Date().timeIntervalSince1970
        let rounds = try store.syncRounds(node: node, since: now - 86_400)
        let events = try store.audit(limit: 2000).filter { a in
            (a.kind == AuditKind.rejected.rawValue || a.kind == AuditKind.rename.rawValue || a.kind == AuditKind.clock.rawValue) && a.node == node
        }.prefix(50)
        var object = Self.row(status)
        object["chart"] = SyncChart.svg(rounds, now: now)
        object["events"] = events.map { ["kind": $0.kind, "at": $0.at, "key": $0.key, "reason": $0.reason] }
        object["canAct"] = s.role == "operator"
        object["canRevoke"] = !status.revoked
        object["regionText"] = status.region.isEmpty ? "every record of the chain (one region)" : "the customers and documents of region \(status.region), and the chain's central data"
        return html(title: "Store \(node)", template: "store", object, session: s)
    }

    func fields(_ f: Fields?) -> [[String: String]] {
        (f ?? [:]).keys.sorted().compactMap { k in
            guard let v = f?[k], v != .null else { return nil }
            return ["name": k, "value": v.text ?? v.int.map(String.init) ?? "\(v)"]
        }
    }

    func customerPage(_ s: ConsoleSession, code: String) throws -> Response {
        let row = try store.pool.read { try ReplicatedTable.partner.fetch($0, key: code) }
        return html(row == nil ? .notFound : .ok, title: "Customer \(code)", template: "record", [
            "title": "Customer \(code)", "fields": fields(row), "missing": row == nil ? "No customer \(code) at the hub." : nil as String? as Any,
        ], session: s)
    }

    func documentPage(_ s: ConsoleSession, id: String) throws -> Response {
        let row = try store.pool.read { try ReplicatedTable.document.fetch($0, key: id) }
        let parts = try store.invoiceParts(document: id)
        var object: [String: Any] = ["title": "Document \(id)", "fields": fields(row)]
        if row == nil { object["missing"] = "No document \(id) at the hub." }
        if row?["invoice_status"].flatMap({ $0 == .null ? nil : $0 }) != nil {
            object["canAct"] = s.role == "operator"
            object["actions"] = [["id": "silence", "label": "Silence its invoice notifications", "style": "danger",
                                  "href": "/console/confirm?action=silence&target=\(Self.query(id))"]]
        }
        if !parts.isEmpty {
            object["related"] = [["heading": "Invoices in the ERP", "items": parts.map { "installment \($0.installment): \($0.number ?? "asked, no reply seen") (\($0.externalNumber))" }]]
        }
        return html(row == nil ? .notFound : .ok, title: "Document \(id)", template: "record", object, session: s)
    }

    func casePage(_ s: ConsoleSession, id: String) throws -> Response {
        let c = try store.accessRequest(id)
        var f: [[String: String]] = [["name": "received", "value": c.received], ["name": "due", "value": c.due], ["name": "status", "value": c.status],
                                     ["name": "identifier", "value": "\(c.identifierKind) \(c.identifier)"], ["name": "records", "value": c.partners.joined(separator: ", ")]]
        if let r = c.extensionReason { f.append(["name": "extended", "value": "\(c.extendedMonths) months: \(r)"]) }
        return html(title: "Access request \(id)", template: "record", [
            "title": "Access request \(id)", "fields": f, "canAct": s.role == "operator" && c.status == "open",
            "actions": [["id": "extend", "label": "Extend", "style": "", "href": "/console/confirm?action=extend&target=\(Self.query(id))"],
                        ["id": "close", "label": "Close", "style": "danger", "href": "/console/confirm?action=close&target=\(Self.query(id))"]],
        ], session: s)
    }

    static func query(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }

    // MARK: Actions

    struct Action {
        var question: String
        var explanation: String
        var button: String
        var back: String
        var needsReason = false
        var needsMonths = false
    }

    static func action(_ name: String, target: String) -> Action? {
        switch name {
        case "revoke": return Action(question: "Revoke the token of store \(target)?", explanation: "Its next sync is refused until it gets a new token (rotate).",
                                     button: "Revoke", back: "/console/stores/\(target)")
        case "rotate": return Action(question: "Give store \(target) a new token?", explanation: "The old token stops at once; the new one is shown once, to be set at the store (posnode init --token).",
                                     button: "Rotate", back: "/console/stores/\(target)")
        case "rebaseline": return Action(question: "Make store \(target) re-baseline its pull?", explanation: "At its next round it reads the hub's whole state again (a snapshot); nothing it has not sent is lost.",
                                         button: "Re-baseline", back: "/console/stores/\(target)")
        case "extend": return Action(question: "Extend access request \(target)?", explanation: "By one or two months (Art. 12(3)); the person is told why.",
                                     button: "Extend", back: "/console/cases/\(target)", needsReason: true, needsMonths: true)
        case "close": return Action(question: "Close access request \(target)?", explanation: "Record how it was answered.",
                                    button: "Close", back: "/console/cases/\(target)", needsReason: true)
        case "silence": return Action(question: "Silence the invoice notifications of document \(target)?", explanation: "Its invoice status is cleared at the hub and every store: the accounting runs leave it alone.",
                                      button: "Silence", back: "/console/documents/\(target)")
        default: return nil
        }
    }

    func confirmPage(_ s: ConsoleSession, _ request: Request) throws -> Response {
        let name = request.uri.queryParameters.get("action") ?? "", target = request.uri.queryParameters.get("target") ?? ""
        guard s.role == "operator" else { return forbidden(s, "Your role (\(s.role)) reads the console; actions need the operator role.") }
        guard let a = Self.action(name, target: target), !target.isEmpty else {
            return html(.badRequest, title: "Unknown action", template: "message", ["title": "Unknown action", "text": "No action \(name).", "back": "/console"], session: s)
        }
        return html(title: a.question, template: "confirm", [
            "question": a.question, "explanation": a.explanation, "button": a.button, "back": a.back, "action": name, "target": target,
            "csrf": s.csrf, "needsReason": a.needsReason, "needsMonths": a.needsMonths,
        ], session: s)
    }

    func act(_ request: Request, action name: String) async throws -> Response {
        guard let s = try session(request) else { return forbidden(nil, "Log in first.") }
        let form = try await Self.form(request)
        guard let token = form["csrf"], token == s.csrf else { return forbidden(s, "The form's token is missing or wrong; nothing was done.") }
        guard s.role == "operator" else { return forbidden(s, "Your role (\(s.role)) reads the console; actions need the operator role. Nothing was done.") }
        let target = form["target"] ?? "", reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespaces)
        guard let a = Self.action(name, target: target), !target.isEmpty else {
            return html(.notFound, title: "Unknown action", template: "message", ["title": "Unknown action", "text": "No action \(name); nothing was done.", "back": "/console"], session: s)
        }
        if a.needsReason && reason.isEmpty {
            return html(.badRequest, title: "Reason missing", template: "message", ["title": "Reason missing", "text": "Give a reason; nothing was done.", "back": a.back], session: s)
        }
        var text = "", newToken: String? = nil
        do {
            switch name {
            case "revoke":
                try store.revokeToken(node: target); text = "The token of store \(target) is revoked; its next sync is refused."
            case "rotate":
                newToken = try store.rotateToken(node: target); text = "Store \(target) has a new token; the old one is refused."
            case "rebaseline":
                try store.requestRebaseline(node: target, by: s.operatorName); text = "Store \(target) re-baselines its pull at its next round."
            case "extend":
                let months = Int(form["months"] ?? "") ?? 0
                let c = try store.extendAccessRequest(target, months: months, reason: reason); text = "Access request \(target) is due \(c.due)."
            case "close":
                _ = try store.closeAccessRequest(target, answer: reason); text = "Access request \(target) is closed."
            case "silence":
                try store.updateDocumentInvoicing(ids: [target], changes: ["invoice_status": .null])
                text = "Document \(target) no longer has an invoice status; its notifications stop."
            default: break
            }
        } catch let e as HubError {
            return html(e.status, title: "Not possible", template: "message", ["title": "Not possible", "text": e.description, "back": a.back], session: s)
        }
        try store.auditConsoleAction(operatorName: s.operatorName, entity: name == "silence" ? "document" : ["extend", "close"].contains(name) ? "case" : "node",
                                     key: target, action: name)
        return html(title: "Done", template: "message", ["title": "Done", "text": text, "token": newToken as Any, "back": a.back], session: s)
    }
}
