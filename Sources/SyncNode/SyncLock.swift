import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on `<store>.sync-lock`, held for one sync round, so `posnode sync` and the
/// background loop of `posnode serve` on the same store never interleave their pulls (which
/// could apply an older page after a newer one). Released on `unlock()` or process exit.
public final class SyncLock: @unchecked Sendable {
    private let fd: Int32
    public let path: String

    public init(storePath: String) throws {
        path = storePath + ".sync-lock"
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SyncLockError(path: path, errno: errno) }
    }

    /// Takes the lock without blocking; false when another round holds it.
    public func tryLock() -> Bool { flock(fd, LOCK_EX | LOCK_NB) == 0 }

    /// Waits for the lock (checking every 50 ms; cancellable).
    public func lock() async throws {
        while !tryLock() { try await Task.sleep(for: .milliseconds(50)) }
    }

    public func unlock() { flock(fd, LOCK_UN) }

    deinit { close(fd) }
}

public struct SyncLockError: Error, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "cannot open sync lock \(path): \(String(cString: strerror(errno)))" }
}
