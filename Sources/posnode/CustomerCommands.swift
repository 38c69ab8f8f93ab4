import ArgumentParser
import CLISupport
import Foundation
import SyncModel
import SyncReconcile
import SyncStore

struct CustomerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer", abstract: "Multi-site customer operations.",
        discussion: "The customer move, its eight conditions and its examples are in docs/rules.md.", subcommands: [Move.self])

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-designate this site's customer CODE:SEQ as another site's customer CODE:SEQ.",
            discussion: """
                The request is journaled and carried out by the hub on the next sync (also when requested
                offline), where all preconditions are checked again against the latest replicated data.
                Before journaling, the preconditions are checked against this store's data; a failure is
                refused at once naming the condition.
                """)

        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Current customer at this site, CODE:SEQ (seq 0 = bill-to).") var current: String
        @Option(name: .customLong("new"), help: "New customer from the other site, CODE:SEQ.") var newCustomer: String
        @Option(help: "The other site, where the new customer exists.") var fromSite: String
        @Flag(help: "Journal the request without checking it against local data (the hub still checks).") var noLocalCheck = false
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let (cc, cs) = try MoveRequest.parseCustomer(current, field: "current")
            let (nc, ns) = try MoveRequest.parseCustomer(newCustomer, field: "new")
            let node = try store.open()
            var request = MoveRequest(currentCode: cc, currentSeq: cs, newCode: nc, newSeq: ns, fromSite: fromSite)
            request.site = try node.config().site
            if !noLocalCheck {
                let failed = try blocking { try node.pool.read { try CustomerMove.violations($0, request) } }
                if !failed.isEmpty { throw MoveRefused(violations: failed) }
            }
            let change = try node.requestMove(request)
            if json { try printJSON(change); return }
            print("move \(change.key) journaled (seq \(change.seq)): \(cc):\(cs) -> \(nc):\(ns) from site \(fromSite); carried out by the hub on the next sync")
        }
    }
}

struct BalancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balances", abstract: "Customer balances.", subcommands: [Show.self, Recalc.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the stored balances (as the last 'balances recalc' left them), without recalculating.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Only this customer.") var partner: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let node = try store.open()
            let balances = try blocking { try node.pool.read { try Balances.stored($0, partnerCode: partner.map(PartnerCode.normalized)) } }
            if json { try printJSON(balances); return }
            for b in balances {
                print("\(b.partnerCode)\tposted \(Document.formatAmount(b.postedMinor)) \(b.currency)\torders \(Document.formatAmount(b.orderMinor)) \(b.currency)\trecalculated \(b.recalculatedAt ?? "never")")
            }
            if balances.isEmpty { print("no stored balances; run 'posnode balances recalc --db \(store.db)'") }
        }
    }

    struct Recalc: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every customer's posted balance (open invoices, receivables) and order balance (open orders).")
        @OptionGroup var store: StoreOptionGroup
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let node = try store.open()
            let balances = try blocking { try node.pool.write { try Balances.recalculate($0) } }
            if json { try printJSON(balances); return }
            for b in balances where b.postedMinor != 0 || b.orderMinor != 0 {
                print("\(b.partnerCode)\tposted \(Document.formatAmount(b.postedMinor)) \(b.currency)\torders \(Document.formatAmount(b.orderMinor)) \(b.currency)")
            }
            print("recalculated \(balances.count) customers")
        }
    }
}

struct DuplicatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates", abstract: "List merge candidates across sites: partners sharing a NIP, a PESEL, or e-mail and name.",
        discussion: "How candidates are grouped and the move that merges them: docs/rules.md.")
    @OptionGroup var store: StoreOptionGroup
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let node = try store.open()
        let site = try node.config().site
        let groups = try blocking { try node.pool.read { try DuplicateFinder.candidates($0, site: site) } }
        if json { try printJSON(groups); return }
        for g in groups {
            print("\(g.reason)\t\(g.value)\t\(g.codes.joined(separator: ", "))")
            for m in g.moves {
                print("  merge: \(m.command)  (\(m.possible ? "possible now" : "not possible now"))")
                for c in m.conditions {
                    print("    condition \(c.condition) \(c.holds ? "holds" : "fails"): \(c.title)\(c.detail.map { " — \($0)" } ?? "")")
                }
            }
            if g.moves.isEmpty { print("  no move from this site merges them (no candidate has its bill-to at site \(site))") }
        }
        if groups.isEmpty { print("no merge candidates") }
    }
}

/// Runs synchronous database work from an async command (selects GRDB's blocking API).
func blocking<T>(_ body: () throws -> T) rethrows -> T { try body() }
