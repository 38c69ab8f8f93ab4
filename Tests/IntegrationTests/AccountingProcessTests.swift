import Foundation
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// The accounting connector with real processes: poshub, posnode, the test ERP (poserp) and a
/// real SMTP server (aiosmtpd), over a week of the schedule with the clock given to each run.
@Suite("Accounting connector with real processes", .serialized)
struct AccountingProcessTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    /// The test ERP as a process, its control routes, its state.
    struct ERP {
        let server: ServerProcess
        var base: String { "http://127.0.0.1:\(server.port)" }
        var apiURL: String { base + "/api/v2.0" }

        init(dir: TemporaryDirectory) throws {
            let pw = dir.file("erp-password")
            try "s3cret-erp-pass\n".write(toFile: pw, atomically: true, encoding: .utf8)
            server = try ServerProcess(BuiltProducts.path("poserp"), ["serve", "--port", "0", "--password-file", pw])
        }

        @discardableResult
        func control(_ action: String, _ body: [String: Any] = [:]) async throws -> [String: Any] {
            let r = try await TestHTTP().post("\(base)/_control/\(action)", json: body)
            #expect(r.status == 200, "control \(action): \(r.text)")
            return (try? r.json()) as? [String: Any] ?? [:]
        }

        func invoices() async throws -> [[String: Any]] {
            (try await TestHTTP().get("\(base)/_control/state").json() as? [String: Any])?["invoices"] as? [[String: Any]] ?? []
        }
    }

    static func configure(_ cluster: Cluster, erp: ERP, mail: MailSink, extra: [String] = []) throws -> CommandResult {
        let pw = cluster.dir.file("erp-password")
        return try cluster.poshub(["erp", "configure"], ["--base-url", erp.apiURL, "--company", "CRONUS", "--user", "erp", "--password-file", pw,
                                                         "--time-zone", "Europe/Zurich", "--smtp", mail.address, "--mail-from", "pos-hub@chain.example",
                                                         "--mail-to", "accounting@chain.example,it@chain.example"] + extra)
    }

    func document(_ cluster: Cluster, _ node: String, _ args: [String]) throws -> Document {
        let r = try cluster.posnode(node, ["document", "add", "--json"] + args)
        ok(r, "document add \(args)")
        return try JSONDecoder().decode(Document.self, from: Data(r.stdout.utf8))
    }

    @Test("a week of the schedule: every status as the source's table says, no invoice twice, the four kinds of mail, errors repeated until fixed, stores showing the statuses")
    func week() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let erp = try ERP(dir: cluster.dir)
        defer { erp.server.stop() }
        let mail = try MailSink(folder: cluster.dir.file("mail"))
        defer { mail.stop() }
        // The hub's own scheduler looks only once an hour: the test gives each run its time.
        try cluster.startHub(extraArguments: ["--erp-poll", "3600"])
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        ok(try cluster.poshub(["category", "add"], ["--code", "STD", "--name", "Standard", "--default"]), "category")
        ok(try cluster.poshub(["offer-category", "add"], ["--code", "TIX", "--name", "Tickets"]), "offer category")
        ok(try cluster.poshub(["offer", "add"], ["--code", "ADULT", "--name", "Adult ticket", "--offer-category", "TIX", "--price", "20.00",
                                                 "--currency", "PLN", "--article-code", "4711"]), "offer")
        try await erp.control("seed", [
            "salespeople": [["code": "AH", "name": "Anna Hofer"]], "paymentTerms": ["14D", "30D"], "paymentMethods": ["BANK"],
            "items": [["number": "4711", "displayName": "Adult ticket"]],
            "customers": [["number": "D-77", "displayName": "Hotel Krakow", "postalCode": "31-042"]],
        ])
        ok(try Self.configure(cluster, erp: erp, mail: mail), "erp configure")

        for (code, name, postal) in [("1001", "Firma Nowak", "00-238"), ("2002", "Hotel Krakow", "31-042")] {
            ok(try cluster.posnode("A", ["partner", "add", "--code", code, "--kind", "business", "--name", name, "--country", "PL"]), "partner \(code)")
            ok(try cluster.posnode("A", ["address", "add", "--partner", code, "--seq", "0", "--street", "Rynek 1", "--city", "Kraków", "--postal-code", postal]), "address \(code)")
        }
        ok(try cluster.posnode("B", ["partner", "add", "--code", "5005", "--kind", "consumer", "--first-name", "Jan", "--last-name", "Kowalski"]), "partner 5005")
        ok(try cluster.posnode("A", ["sync"]), "sync A")
        let ready = ["--invoice-status", "open", "--payment-method", "BANK", "--payment-terms", "14D"]
        let single = try document(cluster, "A", ["--kind", "invoice", "--partner", "1001", "--line", "ADULT:2", "--salesperson", "AH"] + ready)
        let parts = try document(cluster, "A", ["--kind", "receivable", "--partner", "1001", "--amount", "100.00", "--currency", "PLN", "--installments", "3"] + ready)
        let phone = try document(cluster, "A", ["--kind", "order", "--partner", "1001", "--amount", "7.00", "--currency", "PLN", "--salesperson", "AH 0171 2345678"] + ready)
        let duplicate = try document(cluster, "A", ["--kind", "invoice", "--partner", "2002", "--amount", "50.00", "--currency", "PLN"] + ready)
        let cancelled = try document(cluster, "A", ["--kind", "invoice", "--partner", "1001", "--amount", "9.00", "--currency", "PLN", "--invoice-status", "cancelled"])
        let paid = try document(cluster, "A", ["--kind", "invoice", "--partner", "1001", "--amount", "9.00", "--currency", "PLN", "--payment-status", "paid"] + ready)
        let noMethod = try document(cluster, "A", ["--kind", "invoice", "--partner", "1001", "--amount", "12.00", "--currency", "PLN",
                                                   "--invoice-status", "open", "--payment-terms", "14D"])
        let atB = try document(cluster, "B", ["--kind", "invoice", "--partner", "5005", "--amount", "30.00", "--currency", "PLN"] + ready)
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") }

        // The first run meets 429s and loses one creation's reply.
        try await erp.control("faults", ["status429": 4, "dropInvoiceReplies": 1, "retryAfter": 1])
        var exits: [String: Int32] = [:]
        var invoiceRuns = 0, articleRuns = 0
        let days = ["07": "Mon", "08": "Tue", "09": "Wed", "10": "Thu", "11": "Fri", "12": "Sat", "13": "Sun"]
        for day in days.keys.sorted() {
            for hour in 7...20 {
                let moment = "2026-12-\(day)T\(String(format: "%02d", hour)):00:30+01:00"
                let key = "\(days[day]!) \(hour)"
                switch key {
                case "Tue 10": try await erp.control("post", ["all": true])
                case "Wed 8":
                    let invoices = try await erp.invoices()
                    let number = try #require(invoices.first { $0["externalDocumentNumber"] as? String == "\(single.id)/1" }?["number"] as? String)
                    try await erp.control("remind", ["number": number, "level": 1])
                    ok(try cluster.posnode("A", ["document", "update", "--id", noMethod.id, "--payment-method", "BANK"]), "fix")
                    ok(try cluster.posnode("A", ["sync"]), "sync A")
                case "Thu 8":
                    let number = try #require(try await erp.invoices().first { $0["externalDocumentNumber"] as? String == "\(single.id)/1" }?["number"] as? String)
                    try await erp.control("remind", ["number": number, "level": 3])
                    ok(try cluster.poshub(["document", "update"], ["--id", phone.id, "--clear", "invoice-status"]), "silence")
                case "Thu 15": try await erp.control("faults", ["status500": 12])
                case "Thu 19": try await erp.control("faults", [:])
                case "Fri 10":
                    for i in try await erp.invoices() where (i["externalDocumentNumber"] as? String)?.hasPrefix(parts.id + "/") == true {
                        try await erp.control("pay", ["number": i["number"] as? String ?? ""])
                    }
                default: break
                }
                // Off the cooperative threads: a blocking wait there starves other suites' tasks.
                let run = try await offload { try cluster.poshub(["erp", "run"], ["--due", "--at", moment, "--json"]) }
                guard let object = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
                      let runs = object["runs"] as? [[String: Any]] else {
                    Issue.record("erp run at \(moment): \(run.stdout)\(run.stderr)"); continue
                }
                invoiceRuns += runs.filter { $0["job"] as? String == "invoices" }.count
                articleRuns += runs.filter { $0["job"] as? String == "articles" }.count
                if !runs.isEmpty { exits[key] = run.status }
            }
        }
        // Monday 07:00 runs what was missed since Friday 19:00 (once), then the 25 moments of the week.
        #expect(invoiceRuns == 26 && articleRuns == 8, "invoice runs \(invoiceRuns), article runs \(articleRuns)")
        #expect(exits["Mon 7"] == 3 && exits["Thu 15"] == 1 && exits["Sat 12"] == 0, "\(exits.sorted { $0.key < $1.key })")

        // No invoice twice: one per installment, each external number once.
        let invoices = try await erp.invoices()
        let externals = invoices.compactMap { $0["externalDocumentNumber"] as? String }
        #expect(externals.count == 6 && Set(externals).count == 6, "\(externals)")

        // The statuses, at the hub and at every store after a sync.
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") }
        func shown(_ node: String, _ doc: Document) throws -> Document {
            let r = try cluster.posnode(node, ["document", "show", "--id", doc.id, "--json"])
            return try JSONDecoder().decode(Document.self, from: Data(r.stdout.utf8))
        }
        let dunned = try shown("B", single)
        #expect(dunned.invoiceStatus == .dunning2 && dunned.referenceNumbers?.hasPrefix("INV-") == true, "\(dunned)")
        #expect(try cluster.posnode("B", ["document", "show", "--id", single.id]).stdout.contains("dunning-2"))
        let paidParts = try shown("A", parts)
        #expect(paidParts.paymentStatus == .paid && paidParts.referenceNumbers?.split(separator: ";").count == 3)
        #expect(try shown("A", atB).invoiceStatus == .invoice)
        #expect(try shown("B", noMethod).invoiceStatus == .provisional)
        #expect(try shown("A", phone).invoiceStatus == nil)
        #expect(try shown("A", duplicate).invoiceStatus == .open)
        #expect(try shown("A", cancelled).referenceNumbers == nil && shown("A", paid).referenceNumbers == nil)
        #expect(try cluster.nodeStateHash("A") == cluster.hubStateHash() && cluster.nodeStateHash("B") == cluster.hubStateHash())

        // The four kinds of mail.
        let messages = mail.messages()
        #expect(messages.allSatisfy { $0.envelopeTo == ["accounting@chain.example", "it@chain.example"] })
        let created = messages.filter { $0.subject.contains("provisional invoice") }
        #expect(created.count == 2, "\(created.map(\.subject))")
        #expect(created.first?.body.contains(parts.id) == true && created.first?.body.contains("3/3") == true
                && created.first?.body.contains("found again") == true)
        let pending = messages.filter { $0.subject.contains("Pending invoices") }
        #expect(pending.count == 25, "every invoice run but the one the system error stopped: \(pending.count)")
        #expect(pending.last?.body.contains("dunning-2") == true)
        func actions(_ doc: Document) -> Int { messages.filter { $0.subject.contains("Action needed: document \(doc.id)") }.count }
        #expect(actions(duplicate) == 25, "repeated at every run until fixed")
        #expect(actions(phone) == 16, "until the hub cleared its status on Thursday")
        #expect(actions(noMethod) == 11, "until the store set the payment method on Wednesday")
        let dupMail = try #require(messages.first { $0.subject.contains(duplicate.id) })
        #expect(dupMail.body.contains("D-77") && dupMail.body.contains("Customer:  2002") && dupMail.body.contains("To fix it:"))
        let system = messages.filter { $0.subject.contains("System error") }
        #expect(system.count == 1 && system.first?.subject.contains("103") == true && system.first?.body.contains("Error code: 103") == true,
                "\(system.map(\.subject))")

        // The status report: open errors, pending documents, never the password.
        let status = try cluster.poshub(["erp", "status"], ["--json"])
        #expect(!status.stdout.contains("s3cret") && status.stdout.contains(duplicate.id), "\(status.stdout)")
        let hubFiles = try FileManager.default.contentsOfDirectory(atPath: cluster.dir.path).filter { $0.hasPrefix("hub.sqlite") && !$0.hasSuffix("erp-key") }
        for f in hubFiles {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: cluster.dir.file(f)))
            #expect(bytes.range(of: Data("s3cret-erp-pass".utf8)) == nil, "the password is not readable in \(f)")
        }
    }

    @Test("poshub serve runs what was missed while it was down once at start, on its own; configure refuses a bad schedule and plain HTTP to another host")
    func serveRunsMissed() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let erp = try ERP(dir: cluster.dir)
        defer { erp.server.stop() }
        let mail = try MailSink(folder: cluster.dir.file("mail"))
        defer { mail.stop() }
        try await erp.control("seed", ["paymentTerms": ["14D"], "paymentMethods": ["BANK"]])
        let bad = try Self.configure(cluster, erp: erp, mail: mail, extra: ["--schedule", "weekdays at eight"])
        #expect(!bad.succeeded && bad.stderr.contains("schedule"), "\(bad.stderr)")
        let plain = try cluster.poshub(["erp", "configure"], ["--base-url", "http://erp.example.com/api/v2.0", "--company", "C", "--user", "u",
                                                              "--password-file", cluster.dir.file("erp-password"), "--smtp", mail.address,
                                                              "--mail-from", "a@b.c", "--mail-to", "d@e.f"])
        #expect(!plain.succeeded && plain.stderr.contains("https"), "\(plain.stderr)")
        ok(try Self.configure(cluster, erp: erp, mail: mail, extra: ["--schedule", "daily 00:00"]), "configure")
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        ok(try cluster.posnode("A", ["partner", "add", "--code", "1001", "--kind", "business", "--name", "Firma"]), "partner")
        // Nothing to invoice yet; the missed run still mails nothing but runs: its record says so.
        var runs: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let status = try cluster.poshub(["erp", "status"], ["--json"])
            runs = ((try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8))) as? [String: Any])?["last_runs"] as? [[String: Any]] ?? []
            if runs.contains(where: { $0["job"] as? String == "invoices" && $0["outcome"] as? String != "running" }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(runs.filter { $0["job"] as? String == "invoices" }.map { $0["trigger"] as? String } == ["missed"], "\(runs)")
        #expect(runs.contains { $0["job"] as? String == "articles" })
    }
}
