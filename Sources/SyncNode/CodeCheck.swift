import Foundation
import SyncModel
import SyncStore

/// Asks the hub, with a short timeout, whether a new partner's code is free and whether its
/// Polish VAT ID is used already (docs/rules.md): online, the cashier gets the "code exists"
/// refusal and the duplicate VAT ID warning for partners registered at other stores too;
/// offline the store proceeds, the prefix rule applies on reconnect and the hub reports a
/// duplicate VAT ID then.
public enum CodeCheck {
    /// Checks `partner` at the hub before the store registers it: throws for a code the hub
    /// has, and for a Polish VAT ID another partner at the hub has unless `allowDuplicateVat`.
    /// Returns false when the hub could not be asked (the code is provisional until the store
    /// reconnects).
    public static func checkOnline(store: NodeStore, partner: Partner, allowDuplicateVat: Bool) async throws -> Bool {
        guard let cfg = try? store.config(), let client = try? HubClient(config: cfg) else { return false }
        let code = PartnerCode.normalized(partner.code)
        let check: PartnerCheck
        do {
            check = try await client.partnerCheck(code: code, vatID: partner.vatID, country: partner.country ?? cfg.center.defaultCountry)
        } catch {
            return false
        }
        if check.codeTaken {
            throw FieldError(field: "code", reason: "a partner with code \(code) already exists in the system (hub)", code: .conflict)
        }
        if let other = check.vatIDUsedBy, other != code, !allowDuplicateVat {
            throw FieldError(field: "vat_id", reason: "partner \(other) already has VAT ID \(partner.vatID ?? "") (in the system, hub)", overridable: true)
        }
        return true
    }
}
