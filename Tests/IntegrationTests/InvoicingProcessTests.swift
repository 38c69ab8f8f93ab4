import Foundation
import Testing
import SyncModel
import SyncTesting

@Suite("Invoicing fields with real processes", .serialized)
struct InvoicingProcessTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    @Test("posnode document add with invoicing fields, update, show: another store shows the status after a sync; it cannot change it")
    func invoicingAcrossStores() throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        ok(try cluster.posnode("A", ["partner", "add", "--code", "1001", "--kind", "business", "--name", "Firma"]), "partner")
        let added = try cluster.posnode("A", ["document", "add", "--kind", "invoice", "--partner", "1001", "--amount", "120.00", "--invoice-status", "open",
                                              "--payment-method", "BANK", "--payment-terms", "14D", "--installments", "2", "--json"])
        ok(added, "invoice")
        let invoice = try JSONDecoder().decode(Document.self, from: Data(added.stdout.utf8))
        #expect(invoice.invoiceStatus == .open && invoice.installments == 2)
        ok(try cluster.posnode("A", ["document", "update", "--id", invoice.id, "--invoice-status", "dunning-2"]), "update")
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") }
        let shown = try cluster.posnode("B", ["document", "show", "--id", invoice.id, "--json"])
        ok(shown, "show")
        let atB = try JSONDecoder().decode(Document.self, from: Data(shown.stdout.utf8))
        #expect(atB.invoiceStatus == .dunning2 && atB.paymentTerms == "14D")
        #expect(try cluster.posnode("B", ["document", "show", "--id", invoice.id]).stdout.contains("invoice status: dunning-2"))
        let refused = try cluster.posnode("B", ["document", "update", "--id", invoice.id, "--clear", "invoice-status"])
        #expect(!refused.succeeded && refused.stderr.contains("only that node"), "\(refused.stderr)")
        let receipt = try cluster.posnode("A", ["document", "add", "--kind", "receipt", "--partner", "1001", "--amount", "1.00", "--invoice-status", "open"])
        #expect(!receipt.succeeded && receipt.stderr.contains("not invoiced"), "\(receipt.stderr)")
        let listed = try cluster.poshub(["document", "list"], ["--invoice-status", "dunning-2", "--json"])
        let pending = try JSONDecoder().decode([Document].self, from: Data(listed.stdout.utf8))
        #expect(pending.map(\.id) == [invoice.id], "\(listed.stdout)\(listed.stderr)")
        // The hub silences every document in dunning 2 for its stores.
        let silenced = try cluster.poshub(["document", "update"], ["--where", "invoice-status=dunning-2", "--clear", "invoice-status", "--json"])
        #expect(silenced.succeeded && silenced.stdout.contains(invoice.id), "\(silenced.stdout)\(silenced.stderr)")
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") }
        let cleared = try JSONDecoder().decode(Document.self, from: Data(try cluster.posnode("A", ["document", "show", "--id", invoice.id, "--json"]).stdout.utf8))
        #expect(cleared.invoiceStatus == nil && cleared.paymentTerms == "14D")
        #expect(try cluster.nodeStateHash("A") == cluster.hubStateHash() && cluster.nodeStateHash("B") == cluster.hubStateHash())
    }
}
