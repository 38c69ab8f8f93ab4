import Foundation

/// Runs blocking store work (GRDB's synchronous API) on a dispatch queue, so HTTP handlers
/// and other async code never block the cooperative thread pool.
public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
