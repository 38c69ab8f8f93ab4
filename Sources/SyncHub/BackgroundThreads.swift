import DequeModule
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Threads of their own that run work at a lower scheduling priority than the rest of the
/// process (a higher nice value): work that may wait while the hub's single writer runs.
///
/// On a machine with fewer free cores than busy threads (the 2-core catch-up benchmark: the
/// hub's writer, its decoding of the next push, its checkpoints, and the store's encoding),
/// Linux shares the cores evenly and the writer, which every push waits for, lost a time
/// slice (about 4 ms) again and again, about 0.2 s of gaps in a 1.05 s round. With the other
/// work at nice 10 the writer gets most of a contended core (the catch-up row's median went
/// from 0.43× to 0.45× in five alternating pairs of runs); with free cores nothing changes. Raising a nice value needs no
/// privilege, lowering it back does: these threads keep it for good and only ever run work
/// given to them, never the process's other work.
///
/// Process-wide pools (`decoding`, `checkpoints`), so every hub in a process (tests, the
/// simulator) shares a few threads instead of starting its own.
public final class BackgroundThreads: @unchecked Sendable {
    /// The hub's decoding and preparing of pushed batches: pushes of several nodes decode at once.
    public static let decoding = BackgroundThreads(name: "poshub-decode", threads: max(2, ProcessInfo.processInfo.activeProcessorCount),
                                                   nice: 10)
    /// Background checkpoints (`BackgroundCheckpointer`): a hub under steady pushes keeps one
    /// busy, so several stores in one process (tests, the simulator) do not wait for each other.
    public static let checkpoints = BackgroundThreads(name: "poshub-checkpoint", threads: max(2, ProcessInfo.processInfo.activeProcessorCount),
                                                      nice: 10)

    private let name: String
    private let limit: Int
    private let nice: Int32
    private let condition = NSCondition()
    private var jobs = Deque<@Sendable () -> Void>()
    private var threads = 0
    private var idle = 0

    public init(name: String, threads: Int, nice: Int32) {
        self.name = name
        self.limit = max(1, threads)
        self.nice = nice
    }

    /// Runs `job` on one of the threads, in the order given; returns at once.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        // A new thread unless enough are waiting for the jobs not taken yet (a signalled thread
        // counts as waiting until it takes one).
        if idle < jobs.count && threads < limit {
            threads += 1
            let thread = Thread { [self] in loop() }
            thread.name = name
            thread.start()
        }
        condition.signal()
        condition.unlock()
    }

    /// Runs `work` on one of the threads and returns its result.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try work() }) }
        }
    }

    private func loop() {
        #if canImport(Glibc)
        // Who 0: the calling thread (Linux keeps a nice value per thread). A failure leaves the
        // thread at the process's priority, which is only slower under contention.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
        #endif
        while true {
            condition.lock()
            while jobs.isEmpty {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = jobs.popFirst()!
            condition.unlock()
            job()
        }
    }
}
