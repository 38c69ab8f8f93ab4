import Foundation
import Logging
import ServiceLifecycle
import SyncHub
import SyncModel

/// Which runs are due: one rule for `poshub serve`'s scheduler and `poshub erp run --due`.
public enum AccountingSchedule {
    /// A run that is due: its job, the schedule's moment it serves, and whether that moment
    /// passed while no hub was running (`missed`).
    public struct Due: Sendable, Hashable {
        public var job: AccountingJob
        public var slot: Date
        public var trigger: String
    }

    /// The runs due at `now`: per job, the schedule's latest moment at or before `now`, unless
    /// a run already served it or a later one. Moments missed while the hub was down add up
    /// to one run, at the latest of them.
    public static func due(hub: HubStore, config: AccountingConfig, now: Date, grace: TimeInterval = 120) throws -> [Due] {
        var out: [Due] = []
        for (job, schedule) in [(AccountingJob.articles, try config.articleRunSchedule), (.invoices, try config.invoiceSchedule)] {
            guard let slot = schedule.latest(atOrBefore: now) else { continue }
            if let served = try hub.lastServedSlot(job: job), served >= slot { continue }
            out.append(Due(job: job, slot: slot, trigger: now.timeIntervalSince(slot) > grace ? "missed" : "schedule"))
        }
        return out
    }

    /// The next moment either job runs after `now`.
    public static func next(config: AccountingConfig, after now: Date) throws -> (job: AccountingJob, at: Date)? {
        let a = try config.articleRunSchedule.next(after: now).map { (AccountingJob.articles, $0) }
        let i = try config.invoiceSchedule.next(after: now).map { (AccountingJob.invoices, $0) }
        return [a, i].compactMap { $0 }.min { $0.1 < $1.1 }
    }
}

/// Runs the connector on its schedule inside `poshub serve`: at start the runs missed while
/// the hub was down (once), then each moment of the schedule; a run in progress finishes
/// before a graceful shutdown ends the service. Runs never overlap: the job's lease in the
/// hub's store also keeps a second hub process on the same store out.
public actor AccountingScheduler: Service {
    let makeConnector: @Sendable () throws -> AccountingConnector
    let hub: HubStore
    let clock: @Sendable () -> Date
    let logger: Logger
    /// The longest sleep between two looks at the schedule (a configuration change is seen then).
    let poll: Duration

    public init(hub: HubStore, clock: @escaping @Sendable () -> Date = { Date() }, poll: Duration = .seconds(30),
                logger: Logger = Logger(label: "poshub.erp"), makeConnector: @escaping @Sendable () throws -> AccountingConnector) {
        self.hub = hub; self.clock = clock; self.poll = poll; self.logger = logger; self.makeConnector = makeConnector
    }

    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await tick()
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.poll) }
            } catch { return }
        }
    }

    /// Runs what is due now.
    public func tick() async {
        guard let config = try? hub.accountingConfig() else { return }
        let now = clock()
        do {
            for due in try AccountingSchedule.due(hub: hub, config: config, now: now) {
                let connector = try makeConnector()
                do {
                    _ = try await connector.run(due.job, trigger: due.trigger, slot: due.slot, now: now)
                } catch let refusal as HubStore.RunRefusal {
                    logger.info("erp \(due.job.rawValue) run not started: \(refusal)")
                }
            }
        } catch {
            logger.error("erp scheduler: \(error)")
        }
    }
}
