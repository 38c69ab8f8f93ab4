import Foundation
import SyncStore

/// Asks the hub, with a short timeout, whether a partner code is free (seed 004: the cashier
/// gets an immediate "code exists" refusal while online; offline the prefix rule applies later).
public enum CodeCheck {
    public enum Answer: Sendable, Equatable {
        case free
        case taken
        /// No hub configured or not reachable: the node proceeds offline.
        case unknown(String)
    }

    public static func ask(store: NodeStore, code: String) async -> Answer {
        guard let cfg = try? store.config(), let url = cfg.hubURL, let token = cfg.token else {
            return .unknown("no hub configured")
        }
        do {
            return try await HubClient(baseURL: url, token: token).partnerExists(code: code) ? .taken : .free
        } catch {
            return .unknown(String(describing: error))
        }
    }
}
