import ERPTestServer
import Foundation
import Hummingbird
import SyncAccounting
import SyncHub
import SyncModel
import SyncTesting

/// The accounting connector's rows (docs/accounting.md): open documents turned into
/// provisional invoices against the test ERP in-process on loopback.
enum AccountingBench {
    /// A hub with `count` open documents of `customers` customers (amounts only, bank transfer,
    /// 14 days), written as the stores' records.
    static func hub(_ dir: String, count: Int, customers: Int) throws -> HubStore {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let hub = try HubStore(path: "\(dir)/hub.sqlite")
        _ = try hub.addNode(node: "S1", site: "WAW", series: "K1")
        try hub.write(storeRecords: true) { _ in
            (0..<customers).flatMap { c -> [HubStore.CentralChange] in
                let p = Partner(code: "C\(c)", kind: .business, name: "Firma \(c)", country: "PL")
                let a = Address(partnerCode: "C\(c)", site: "WAW", seq: 0, street: "Długa \(c)", city: "Warszawa", postalCode: "00-\(100 + c % 800)")
                return [HubStore.CentralChange(.partner, .insert, fields: p.fields), HubStore.CentralChange(.address, .insert, fields: a.fields)]
            }
        }
        for start in stride(from: 0, to: count, by: 1000) {
            try hub.write(storeRecords: true) { _ in
                (start..<min(count, start + 1000)).map { i in
                    var d = Document(id: "\(HubStore.hubNode)-F\(i + 1)", kind: .invoice, partnerCode: "C\(i % customers)", site: "WAW",
                                     amountMinor: Int64(1000 + i % 5000), currency: "PLN", issuedAt: "2026-12-07T08:00:00Z", node: HubStore.hubNode)
                    d.invoiceStatus = .open; d.paymentMethod = "BANK"; d.paymentTerms = "14D"
                    return HubStore.CentralChange(.document, .insert, fields: d.fields)
                }
            }
        }
        return hub
    }

    struct Running {
        let server: ERPTestServer
        let port: Int
        let task: Task<Void, Error>
        var base: String { "http://127.0.0.1:\(port)/api/v2.0" }

        init(limit: Int, window: Double) async throws {
            server = ERPTestServer(company: "CRONUS", user: "erp", password: "secret", requestsPer5Minutes: limit, windowSeconds: window)
            let (ports, continuation) = AsyncStream<Int>.makeStream()
            let app = server.application(port: 0, logLevel: .critical) { continuation.yield($0) }
            task = Task { try await app.runService() }
            var it = ports.makeAsyncIterator()
            port = await it.next() ?? 0
        }

        func seed() async throws {
            let reply = try await TestHTTP().post("http://127.0.0.1:\(port)/_control/seed", json: [
                "paymentTerms": ["14D"], "paymentMethods": ["BANK"], "customers": [["number": "SEED0", "displayName": "Seed"]],
            ])
            guard reply.status == 200 else { throw BenchError("seeding the test ERP: \(reply.status)") }
        }
    }

    /// Row 1: `count` open documents through the connector against an ERP without a limit,
    /// beside the same number of bare invoice creations sent straight to the same kind of ERP.
    /// Row 2: `paced` documents under Business Central's rate (20 requests a second, as a window
    /// of `paced / 4` requests per `paced / 80` seconds): no 429 beyond what the limit forces.
    static func rows(count: Int, paced: Int, dir: String, log: (String) -> Void) async throws -> [BenchRow] {
        var rows: [BenchRow] = []
        let customers = max(1, count / 100)
        // The connector, no limit.
        do {
            let erp = try await Running(limit: 100_000_000, window: 300)
            defer { erp.task.cancel() }
            try await erp.seed()
            let hub = try hub("\(dir)/free", count: count, customers: customers)
            let connector = AccountingConnector(hub: hub, config: config(erp.base),
                                                erp: BusinessCentralAdapter(baseURL: erp.base, company: "CRONUS", user: "erp", password: "secret",
                                                                            requestsPer5Minutes: 100_000_000), mailer: nil)
            log("  connector: \(count) documents of \(customers) customers…")
            let t0 = Date()
            let report = try await connector.run(.invoices)
            let seconds = Date().timeIntervalSince(t0)
            guard report.created == count else { throw BenchError("connector created \(report.created) of \(count): \(report.systemErrors)") }
            // The reference: the same number of bare creations, one after the other, to a fresh ERP.
            let bare = try await Running(limit: 100_000_000, window: 300)
            defer { bare.task.cancel() }
            try await bare.seed()
            let adapter = BusinessCentralAdapter(baseURL: bare.base, company: "CRONUS", user: "erp", password: "secret", requestsPer5Minutes: 100_000_000)
            log("  reference: \(count) bare invoice creations…")
            let r0 = Date()
            for i in 0..<count {
                _ = try await adapter.createInvoice(ERPInvoiceDraft(customerNumber: "SEED0", externalNumber: "B\(i)/1", invoiceDate: "2026-12-07",
                                                                    currency: "PLN", lines: [ERPInvoiceLine(lineType: "Account", objectNumber: "6000",
                                                                    description: "Document B\(i)", quantity: 1, unitPriceMinor: 1000, discountMinor: 0)]))
            }
            let bareSeconds = Date().timeIntervalSince(r0)
            let figure = Double(count) / seconds, reference = Double(count) / bareSeconds
            rows.append(BenchRow(row: "accounting (no limit)", workload: "\(count) open documents → provisional invoices",
                                 figure: figure, unit: "documents/s", reference: reference,
                                 referenceWorkload: "\(count) bare invoice creations to the same test ERP",
                                 ratio: figure / reference, target: "≥ 0.5×", met: figure / reference >= 0.5,
                                 notes: String(format: "%.2f requests/document, %d 429s, %.1f s", Double(report.requests) / Double(count), report.throttled, seconds)))
        }
        // Under the rate limit.
        do {
            let limit = max(20, paced / 4), window = Double(limit) / 20
            let erp = try await Running(limit: limit, window: window)
            defer { erp.task.cancel() }
            try await erp.seed()
            let hub = try hub("\(dir)/paced", count: paced, customers: max(1, paced / 100))
            let connector = AccountingConnector(hub: hub, config: config(erp.base),
                                                erp: BusinessCentralAdapter(baseURL: erp.base, company: "CRONUS", user: "erp", password: "secret",
                                                                            requestsPer5Minutes: limit, windowSeconds: window), mailer: nil)
            log("  paced: \(paced) documents, \(limit) requests per \(window) s…")
            let t0 = Date()
            let report = try await connector.run(.invoices)
            let seconds = Date().timeIntervalSince(t0)
            guard report.created == paced else { throw BenchError("paced run created \(report.created) of \(paced): \(report.systemErrors)") }
            let perDoc = Double(report.requests) / Double(paced)
            let figure = Double(paced) / seconds
            // The most the limit allows: `limit` requests per window, so R requests take at
            // least (⌈R / limit⌉ − 1) windows.
            let windows = (Double(report.requests) / Double(limit)).rounded(.up) - 1
            let bound = Double(paced) / max(windows * window, 0.001)
            rows.append(BenchRow(row: "accounting (20 requests/s limit)", workload: "\(paced) open documents → provisional invoices",
                                 figure: figure, unit: "documents/s", reference: bound,
                                 referenceWorkload: "what the limit allows for the same requests (\(limit) per \(window) s)",
                                 ratio: figure / bound, target: "≥ 0.8×, no 429", met: report.throttled == 0 && figure / bound >= 0.8,
                                 notes: String(format: "%.2f requests/document, %d 429s, %.1f s", perDoc, report.throttled, seconds)))
        }
        return rows
    }

    static func config(_ base: String) -> AccountingConfig {
        AccountingConfig(baseURL: base, company: "CRONUS", user: "erp", smtp: "127.0.0.1:25", mailFrom: "a@b.c", mailTo: ["d@e.f"])
    }
}

