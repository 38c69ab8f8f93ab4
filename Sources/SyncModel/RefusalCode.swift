/// The stable machine code of a refusal, beside its sentence: in a push verdict
/// (`EntryResult.code`) and in every error reply of the hub (`HubErrorReply.code`). Scripts and
/// stores act on the code; the sentence is for people and may be reworded. The list is in
/// docs/sync-protocol.md ("Refusal codes") and in the OpenAPI documents.
public enum RefusalCode: String, Sendable, Codable, Hashable, CaseIterable {
    // Verdicts on one entry of a push (nothing of the entry is applied).
    /// A field's value is wrong (missing, malformed, out of range, of the wrong type).
    case invalidField = "invalid-field"
    /// A text is longer than its column allows (counted in code points, docs/rules.md).
    case fieldTooLong = "field-too-long"
    /// The change would bring back personal data erased under a data-subject case.
    case erased
    /// The record belongs to another replication region than the sending node's.
    case outsideRegion = "outside-region"
    /// The record is another node's (a document, an owned record); only that node changes it.
    case notOwner = "not-owner"
    /// The record the change edits or removes does not exist at the hub.
    case unknownRecord = "unknown-record"
    /// The partner the record names does not exist at the hub.
    case unknownPartner = "unknown-partner"
    /// Central master data, written at the hub only.
    case centralData = "central-data"
    /// A kind the stores write, not the hub.
    case storeData = "store-data"
    /// A record of a kind that is never removed.
    case neverRemoved = "never-removed"
    /// A kind the hub does not replicate.
    case unknownKind = "unknown-kind"
    /// A pick-up of an order that does not exist, is another region's or is not the store's to claim.
    case pickupRefused = "pickup-refused"
    /// A customer move whose conditions are not met.
    case moveRefused = "move-refused"

    // Errors of a whole request (nothing of it is applied).
    /// No token, or a token the hub does not know or has revoked.
    case unauthorized
    /// The token may not call this (a store's token on the operator's calls, a system's on a store's).
    case forbidden
    /// A batch from another node than the token's.
    case nodeMismatch = "node-mismatch"
    /// A batch that starts after the next sequence the hub expects (`next_expected`).
    case sequenceGap = "sequence-gap"
    /// A batch whose sequences skip one.
    case notContiguous = "not-contiguous"
    /// A batch that cannot be read: bad magic, version, checksum, compression, encoding.
    case batchCorrupt = "batch-corrupt"
    /// A body or batch beyond the hub's limits (bytes, entries: `max_entries`).
    case tooLarge = "too-large"
    /// A body that ended before its announced length.
    case incompleteBody = "incomplete-body"
    /// The hub is busy; send again after `Retry-After` seconds.
    case busy
    /// A request whose parameters or body are wrong (the sentence names the field).
    case invalidRequest = "invalid-request"
    /// The named thing does not exist.
    case notFound = "not-found"
    /// The request conflicts with what the hub has (a name or code taken, a case closed).
    case conflict
    /// The node is not registered at this hub.
    case unknownNode = "unknown-node"
    /// The hub could not carry it out; the sentence names an error id in the hub's log.
    case `internal`
    /// The hub's store cannot be written now (read-only, disk full).
    case unavailable

    /// The code of an error reply that names none: by its HTTP status.
    public static func forStatus(_ status: Int) -> RefusalCode {
        switch status {
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 413: .tooLarge
        case 429: .busy
        case 503: .busy
        case 500...599: .internal
        default: .invalidRequest
        }
    }
}

extension FieldError {
    /// The refusal code of a field's problem.
    public var refusalCode: RefusalCode {
        switch code {
        case .tooLong: .fieldTooLong
        case .invalid: .invalidField
        case .conflict: .conflict
        case .notFound: .unknownRecord
        }
    }
}
