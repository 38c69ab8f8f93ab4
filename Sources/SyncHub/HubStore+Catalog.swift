import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// The chain's central master data of the customer module, written at the hub and fed to every
/// store: customer categories, offer categories, offers and the price table. Every write goes
/// through the reconciler as the hub's own change (`write(_:)`); the rules that need more than
/// one record are here: one default category, offers and price cells of an offer category in
/// one currency, a new price version for every change of a price.
extension HubStore {
    /// A new customer category; `isDefault`: it becomes the category customers registered
    /// without one get (the previous default stops being it, in the same transaction).
    @discardableResult
    public func addCustomerCategory(code: String, name: String, isDefault: Bool = false) throws -> CategoryRecord {
        let code = PartnerCode.normalized(code)  // codes take the partner codes' normal form: `sch` is `SCH`
        try Self.checkCode(code)
        try write { db in
            if try db.customerCategories().contains(where: { $0.code == code }) {
                throw HubError.invalid(FieldError(field: "code", reason: "customer category \(code) already exists", code: .conflict))
            }
            return [CentralChange(.customerCategory, .insert, fields: ["code": .text(code), "name": .text(name), "active": .bool(true),
                                                                       "is_default": .bool(isDefault)])]
                + (isDefault ? try Self.clearDefault(db, except: code) : [])
        }
        return try pool.read { try $0.customerCategories().first { $0.code == code }! }
    }

    /// Changes a customer category's name, active flag or default flag. The default category
    /// cannot be deactivated (customers registered without a category get it): another one is
    /// made default first. Deactivating keeps the category and every reference to it readable
    /// (customers and documents keep its code); stores refuse new references to it.
    @discardableResult
    public func updateCustomerCategory(code: String, name: String? = nil, active: Bool? = nil, isDefault: Bool? = nil) throws -> CategoryRecord {
        let code = PartnerCode.normalized(code)  // codes take the partner codes' normal form: `sch` is `SCH`
        try write { db in
            guard let current = try db.customerCategories().first(where: { $0.code == code }) else {
                throw HubError.invalid(FieldError(field: "code", reason: "no customer category \(code) exists", code: .notFound))
            }
            let willBeDefault = isDefault ?? current.isDefault ?? false, willBeActive = active ?? current.active
            if willBeDefault && !willBeActive {
                throw HubError.invalid(FieldError(field: "active", reason: "customer category \(code) is the default category; make another category the default first"))
            }
            var fields: Fields = [:]
            if let name { fields["name"] = .text(name) }
            if let active { fields["active"] = .bool(active) }
            if let isDefault { fields["is_default"] = .bool(isDefault) }
            guard !fields.isEmpty else { return [] }
            return [CentralChange(.customerCategory, .update, key: code, fields: fields)]
                + (isDefault == true ? try Self.clearDefault(db, except: code) : [])
        }
        return try pool.read { try $0.customerCategories().first { $0.code == code }! }
    }

    static func clearDefault(_ db: Database, except code: String) throws -> [CentralChange] {
        try db.customerCategories().filter { $0.isDefault == true && $0.code != code }.map {
            CentralChange(.customerCategory, .update, key: $0.code, fields: ["is_default": .bool(false)])
        }
    }

    @discardableResult
    public func addOfferCategory(code: String, name: String) throws -> CategoryRecord {
        let code = PartnerCode.normalized(code)  // codes take the partner codes' normal form: `sch` is `SCH`
        try Self.checkCode(code)
        try write { db in
            if try db.offerCategories().contains(where: { $0.code == code }) {
                throw HubError.invalid(FieldError(field: "code", reason: "offer category \(code) already exists", code: .conflict))
            }
            return [CentralChange(.offerCategory, .insert, fields: ["code": .text(code), "name": .text(name), "active": .bool(true)])]
        }
        return try pool.read { try $0.offerCategories().first { $0.code == code }! }
    }

    /// Renames, deactivates or reactivates an offer category. Deactivating is refused while
    /// active offers are in it (with their number): a sale is never priced in an inactive
    /// category. A deactivated one keeps its offers, cells and every document readable; no new
    /// offer or price cell goes into it.
    @discardableResult
    public func updateOfferCategory(code: String, name: String? = nil, active: Bool? = nil) throws -> CategoryRecord {
        let code = PartnerCode.normalized(code)  // codes take the partner codes' normal form: `sch` is `SCH`
        try write { db in
            guard try db.offerCategories().contains(where: { $0.code == code }) else {
                throw HubError.invalid(FieldError(field: "code", reason: "no offer category \(code) exists", code: .notFound))
            }
            if active == false {
                let offers = try db.offers().filter { $0.offerCategory == code && $0.active }.map(\.code)
                if !offers.isEmpty {
                    throw HubError.invalid(FieldError(field: "active", reason: "offer category \(code) has \(offers.count) active offer\(offers.count == 1 ? "" : "s") (\(offers.prefix(5).joined(separator: ", "))\(offers.count > 5 ? ", …" : "")); deactivate them first", code: .conflict))
                }
            }
            var fields: Fields = [:]
            if let name { fields["name"] = .text(name) }
            if let active { fields["active"] = .bool(active) }
            guard !fields.isEmpty else { return [] }
            return [CentralChange(.offerCategory, .update, key: code, fields: fields)]
        }
        return try pool.read { try $0.offerCategories().first { $0.code == code }! }
    }

    /// A new offer at its base price. Its currency must be the one of the price table's cells
    /// for its offer category (a line is priced in one currency, cell or base price).
    @discardableResult
    public func addOffer(code: String, name: String, offerCategory: String, priceMinor: Int64, currency: String,
                         articleCode: String? = nil) throws -> Offer {
        let code = PartnerCode.normalized(code), offerCategory = PartnerCode.normalized(offerCategory)
        try Self.checkCode(code)
        try write { db in
            if try db.offer(code) != nil {
                throw HubError.invalid(FieldError(field: "code", reason: "offer \(code) already exists", code: .conflict))
            }
            try Self.requireActiveOfferCategory(db, offerCategory)
            if let other = try db.priceCells().first(where: { $0.offerCategory == offerCategory && $0.currency != currency }) {
                throw HubError.invalid(FieldError(field: "currency", reason: "the price table prices offer category \(offerCategory) in \(other.currency) (customer category \(other.customerCategory)), not \(currency)"))
            }
            var fields: Fields = ["code": .text(code), "name": .text(name), "offer_category": .text(offerCategory),
                                  "price_minor": .int(priceMinor), "currency": .text(currency), "active": .bool(true),
                                  "price_version": .int(try db.priceTableVersion() + 1)]
            if let articleCode { fields["article_code"] = .text(articleCode) }
            return [CentralChange(.offer, .insert, fields: fields)]
        }
        return try pool.read { try $0.offer(code)! }
    }

    /// Changes an offer's name, base price or article code, or deactivates or reactivates it.
    /// A new base price or a change of the active flag takes the next price version, like a
    /// cell: documents already written keep the prices they were sold at, and a store's sale
    /// priced with the older version is listed in the hub's audit (`old-price`). Stores refuse
    /// a deactivated offer on a new line; documents that sold it stay readable. Its code,
    /// offer category and currency do not change (a different offer is a new one).
    @discardableResult
    public func updateOffer(code: String, name: String? = nil, priceMinor: Int64? = nil, articleCode: String? = nil,
                            active: Bool? = nil) throws -> Offer {
        let code = PartnerCode.normalized(code)
        try write { db in
            guard let current = try db.offer(code) else {
                throw HubError.invalid(FieldError(field: "code", reason: "no offer \(code) exists", code: .notFound))
            }
            if active == true, current.active == false { try Self.requireActiveOfferCategory(db, current.offerCategory) }
            var fields: Fields = [:]
            if let name { fields["name"] = .text(name) }
            if let articleCode { fields["article_code"] = .text(articleCode) }
            if let priceMinor, priceMinor != current.priceMinor { fields["price_minor"] = .int(priceMinor) }
            if let active, active != current.active { fields["active"] = .bool(active) }
            if fields["price_minor"] != nil || fields["active"] != nil { fields["price_version"] = .int(try db.priceTableVersion() + 1) }
            guard !fields.isEmpty else { return [] }
            return [CentralChange(.offer, .update, key: code, fields: fields)]
        }
        return try pool.read { try $0.offer(code)! }
    }

    /// Sets the price table's cell for (customer category, offer category): new or changed,
    /// with the next price version. Its currency must be the one of the offers of the offer
    /// category. Documents already written keep the prices they were sold at.
    @discardableResult
    public func setPrice(customerCategory: String, offerCategory: String, amountMinor: Int64, currency: String) throws -> PriceCell {
        let customerCategory = PartnerCode.normalized(customerCategory)  // codes take the partner codes' normal form: `sch` is `SCH`
        let offerCategory = PartnerCode.normalized(offerCategory)  // codes take the partner codes' normal form: `sch` is `SCH`
        try setPrices([PriceCellInput(customerCategory: customerCategory, offerCategory: offerCategory, amountMinor: amountMinor, currency: currency)])
        return try pool.read { try $0.priceCell(customerCategory: customerCategory, offerCategory: offerCategory)! }
    }

    /// Sets many cells of the price table in one transaction, all with the same next price
    /// version (a price list imported at once): each cell is checked as `setPrice` checks one,
    /// and one refused cell refuses the whole list, naming the cell; nothing is written then.
    /// Returns the number of cells set.
    @discardableResult
    public func setPrices(_ cells: [PriceCellInput]) throws -> Int {
        guard !cells.isEmpty else { throw HubError.invalid(FieldError(field: "cells", reason: "no price cell given")) }
        return try write { db in
            let customerCategories = Swift.Set(try db.customerCategories().map(\.code))
            let offerCategories = Dictionary(try db.offerCategories().map { ($0.code, $0.active) }) { a, _ in a }
            let offersByCategory = Dictionary(grouping: try db.offers(), by: \.offerCategory)
            let existing = Swift.Set(try String.fetchAll(db, sql: "SELECT customer_category || '|' || offer_category FROM price"))
            let version = try db.priceTableVersion() + 1
            var seen = Swift.Set<String>(), changes: [CentralChange] = []
            changes.reserveCapacity(cells.count)
            for (i, cell) in cells.enumerated() {
                func refused(_ field: String, _ reason: String, _ code: FieldError.Code = .invalid) -> HubError {
                    .invalid(FieldError(field: field, reason: cells.count == 1 ? reason : "cell \(i + 1) (\(cell.customerCategory) x \(cell.offerCategory)): \(reason)", code: code))
                }
                guard customerCategories.contains(cell.customerCategory) else {
                    throw refused("customer_category", "no customer category \(cell.customerCategory) exists", .notFound)
                }
                guard let active = offerCategories[cell.offerCategory] else {
                    throw refused("offer_category", "no offer category \(cell.offerCategory) exists", .notFound)
                }
                guard active else { throw refused("offer_category", "offer category \(cell.offerCategory) is inactive") }
                guard (0...ColumnRules.maxAmountMinor).contains(cell.amountMinor) else {
                    throw refused("amount_minor", "\(cell.amountMinor) is not a price from 0 to \(Document.formatAmount(ColumnRules.maxAmountMinor))")
                }
                do { try CustomerModule.requireCurrency(.text(cell.currency)) } catch let e as FieldError { throw refused("currency", e.reason) }
                if let offer = offersByCategory[cell.offerCategory]?.first(where: { $0.currency != cell.currency }) {
                    throw refused("currency", "offer \(offer.code) of offer category \(cell.offerCategory) is priced in \(offer.currency), not \(cell.currency)")
                }
                let key = "\(cell.customerCategory)|\(cell.offerCategory)"
                guard seen.insert(key).inserted else { throw refused("customer_category", "the same cell is given twice") }
                let fields: Fields = ["amount_minor": .int(cell.amountMinor), "currency": .text(cell.currency), "price_version": .int(version)]
                if existing.contains(key) {
                    changes.append(CentralChange(.price, .update, key: key, fields: fields))
                } else {
                    changes.append(CentralChange(.price, .insert, fields: fields.merging(["customer_category": .text(cell.customerCategory),
                                                                                         "offer_category": .text(cell.offerCategory)]) { a, _ in a }))
                }
            }
            return changes
        }.count
    }

    static func requireActiveOfferCategory(_ db: Database, _ code: String) throws {
        guard let category = try db.offerCategories().first(where: { $0.code == code }) else {
            throw HubError.invalid(FieldError(field: "offer_category", reason: "no offer category \(code) exists", code: .notFound))
        }
        guard category.active else { throw HubError.invalid(FieldError(field: "offer_category", reason: "offer category \(code) is inactive")) }
    }

    /// A code of a category or offer: not blank, at most `CustomerModule.maxCodeLength`
    /// characters, in normal form, none of the characters a partner code may not hold, no `|`.
    static func checkCode(_ code: String) throws {
        if code.unicodeScalars.count > CustomerModule.maxCodeLength {
            throw HubError.invalid(FieldError(field: "code", reason: "is longer than \(CustomerModule.maxCodeLength) characters (\(code.unicodeScalars.count) code points)"))
        }
        if let problem = PartnerCode.problem(code, entered: true) { throw HubError.invalid(problem) }
        if code.contains("|") { throw HubError.invalid(FieldError(field: "code", reason: "must not contain '|'")) }
    }

    // MARK: Reads

    public func customerCategories() throws -> [CategoryRecord] { try pool.read { try $0.customerCategories() } }
    public func offerCategories() throws -> [CategoryRecord] { try pool.read { try $0.offerCategories() } }
    public func offers() throws -> [Offer] { try pool.read { try $0.offers() } }
    public func priceCells() throws -> [PriceCell] { try pool.read { try $0.priceCells() } }
    /// The price table's version: the highest of any cell or offer.
    public func priceTableVersion() throws -> Int64 { try pool.read { try $0.priceTableVersion() } }
    public func institutions() throws -> [Institution] { try pool.read { try $0.institutions() } }

    /// An institution with its members and the orders placed with addresses at it, as the hub
    /// holds them (every store's).
    public func institutionListing(code: String) throws -> InstitutionListing {
        try pool.read { db in
            guard try db.institution(code) != nil else { throw HubError.invalid(FieldError(field: "code", reason: "no institution \(code) exists", code: .notFound)) }
            return try db.institutionListing(code: code)
        }
    }

    public func customerListing(code: String) throws -> CustomerListing {
        try pool.read { db in
            do { return try db.customerListing(code: PartnerCode.normalized(code)) } catch let e as FieldError {
                throw HubError.invalid(FieldError(field: e.field, reason: e.reason, code: .notFound))
            }
        }
    }
}

/// One cell of the price table as an operator gives it (`poshub price set|import`, the API).
public struct PriceCellInput: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case customerCategory = "customer_category", offerCategory = "offer_category", amountMinor = "amount_minor", currency
    }
    public var customerCategory: String
    public var offerCategory: String
    /// Minor units.
    public var amountMinor: Int64
    public var currency: String

    public init(customerCategory: String, offerCategory: String, amountMinor: Int64, currency: String) {
        self.customerCategory = customerCategory; self.offerCategory = offerCategory; self.amountMinor = amountMinor; self.currency = currency
    }
}

extension HubStore {
    /// Sets an institution's discount (central data: only the hub sets or changes it), from 0
    /// to 100 % with up to two decimals; the stores receive it through the feed. Orders placed
    /// before keep the discount they were priced with.
    @discardableResult
    public func updateInstitution(code entered: String, discount: Discount? = nil, active: Bool? = nil) throws -> Institution {
        let code = PartnerCode.normalized(entered)
        try write(storeRecords: true) { db in
            guard try db.institution(code) != nil else {
                throw HubError.invalid(FieldError(field: "code", reason: "no institution \(code) exists", code: .notFound))
            }
            var fields: Fields = [:]
            if let discount {
                fields["discount_hundredths"] = .int(Int64(discount.hundredths))
                fields["discount_percent"] = .int(Int64(discount.hundredths / 100))
            }
            if let active { fields["active"] = .bool(active) }
            guard !fields.isEmpty else { throw HubError.invalid(FieldError(field: "discount", reason: "nothing to change: give --discount or --active")) }
            return [CentralChange(.institution, .update, key: code, fields: fields)]
        }
        return try pool.read { try $0.institution(code)! }
    }
}
