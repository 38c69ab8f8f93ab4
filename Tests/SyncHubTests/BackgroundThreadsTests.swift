import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SyncHub
import SyncStore
import Testing

@Suite("Lower-priority background threads")
struct BackgroundThreadsTests {
    @Test("work runs on the pool's threads at the pool's nice value, and every job of a burst finishes")
    func runsAtLowerPriority() async throws {
        let pool = BackgroundThreads(name: "test-background", threads: 2, nice: 7)
        #if canImport(Glibc)
        let nice = try await pool.run { () -> Int32 in
            errno = 0
            return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        }
        #expect(nice == 7)
        #endif
        let sums = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 1...50 { group.addTask { try await pool.run { i * 2 } } }
            return try await group.reduce(0, +)
        }
        #expect(sums == 2 * (50 * 51 / 2))
        await #expect(throws: CancellationError.self) { try await pool.run { throw CancellationError() } }
    }
}
