//! The core's vocabularies as FFI enums.
//!
//! The core keeps its enums free of uniffi (it is plain Rust, used by the CLI and the server
//! too), so each one is mirrored here by a macro that also writes both `From` conversions: the
//! exhaustive matches make a new core variant a compile error here rather than a silent gap.
//! Every vocabulary enum also exposes `code()` (the stable snake_case code stored and synced),
//! `label_zh()` and `label_en()` as methods, so an app shows "连心户" without a string table of
//! its own that could drift from the core's.

use gridwalk_core as core;

/// Declares an FFI enum mirroring a core enum, with conversions both ways.
macro_rules! mirror_enum {
    (
        $(#[$meta:meta])*
        $name:ident => $core:ty { $( $(#[$vmeta:meta])* $variant:ident ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                type C = $core;
                match v { $( C::$variant => $name::$variant, )+ }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                type C = $core;
                match v { $( $name::$variant => C::$variant, )+ }
            }
        }
    };
}

/// [`mirror_enum!`] plus `code()`, `label_zh()` and `label_en()` methods (for the core's
/// `str_enum!` vocabularies).
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident => $core:ty { $( $(#[$vmeta:meta])* $variant:ident ),+ $(,)? }
    ) => {
        mirror_enum! {
            $(#[$meta])*
            $name => $core { $( $(#[$vmeta])* $variant ),+ }
        }

        #[uniffi::export]
        impl $name {
            /// The stable snake_case code (what the store keeps and sync sends).
            pub fn code(&self) -> String {
                <$core>::from(*self).as_str().to_string()
            }

            /// Chinese label for the screen.
            pub fn label_zh(&self) -> String {
                <$core>::from(*self).label_zh().to_string()
            }

            /// English label.
            pub fn label_en(&self) -> String {
                <$core>::from(*self).label_en().to_string()
            }
        }
    };
}

vocabulary! {
    /// Level of an organisational unit: district → street → community → grid.
    GridLevel => core::GridLevel { District, Street, Community, Grid }
}

vocabulary! {
    /// How a dwelling is used (群租房, group rental, is the rental-safety hot spot).
    HousingType => core::HousingType {
        /// 自住
        Owned,
        /// 出租
        Rented,
        /// 群租
        GroupRental,
        /// 空置
        Vacant,
        /// 商用
        Business,
    }
}

vocabulary! {
    /// How much care a household needs; drives how often it must be visited.
    CareTier => core::CareTier {
        /// 放心户: every 30 days by default.
        Routine,
        /// 关心户: every 15 days by default.
        Attention,
        /// 连心户: weekly by default.
        Close,
    }
}

vocabulary! {
    /// Gender (derived from the ID number when one is given).
    Gender => core::Gender { Male, Female }
}

vocabulary! {
    /// Registered (户籍) or floating (流动) population.
    Residency => core::Residency { Registered, Floating }
}

vocabulary! {
    /// Relation to the head of household.
    Relation => core::Relation {
        Head, Spouse, Child, Parent, Grandparent, Grandchild, Sibling, Tenant, Other,
    }
}

vocabulary! {
    /// Special groups a worker keeps an eye on. Sensitive: never log them.
    SpecialGroup => core::SpecialGroup {
        ElderlyAlone, Disabled, LeftBehindChild, Poverty, SeriousIllness, CommunityCorrection,
        ReleasedPrisoner, MentalIllness, Veteran,
    }
}

vocabulary! {
    /// Whether a household or resident record is in force. Records are never deleted.
    RecordStatus => core::RecordStatus { Active, MovedOut, Archived }
}

vocabulary! {
    /// How a visit was made.
    VisitMode => core::VisitMode {
        /// 入户走访
        InPerson,
        /// 电话
        Phone,
        /// 微信/短信
        Messaging,
        /// 未遇: went there, nobody home (does not count as contact).
        NotAtHome,
    }
}

vocabulary! {
    /// What a visit found.
    VisitOutcome => core::VisitOutcome { Fine, NeedsFollowUp, ProblemFound, NoContact }
}

vocabulary! {
    /// How urgent a case is.
    Urgency => core::Urgency { Normal, Urgent, Emergency }
}

vocabulary! {
    /// A case's place in the closed loop. `Draft` and `Submitted` are set on the device; later
    /// states come from the server.
    CaseStatus => core::CaseStatus {
        Draft, Submitted, Accepted, Dispatched, Handling, VerificationRequested, Verified,
        Rejected, Returned, Closed, Archived,
    }
}

vocabulary! {
    /// What a task asks for.
    TaskKind => core::TaskKind { VisitHousehold, VerifyCase, Patrol, CollectInfo, CallBack, Custom }
}

vocabulary! {
    /// Where a task came from.
    TaskSource => core::TaskSource {
        /// From a supervisor.
        Assigned,
        /// Made by rules.
        Generated,
        /// The worker's own reminder.
        Own,
    }
}

vocabulary! {
    /// State of a task.
    TaskStatus => core::TaskStatus { Open, Done, Cancelled }
}

vocabulary! {
    /// Priority of a task or daily-list item (higher sorts first).
    Priority => core::Priority { Low, Normal, High, Urgent }
}

vocabulary! {
    /// The sync badge a record shows.
    SyncStatus => core::SyncStatus {
        /// Never sent to the server.
        LocalOnly,
        /// Changed here since the last sync.
        Pending,
        /// The server has this version.
        Synced,
        /// The server refused or conflicted with a change; the worker must look at it.
        NeedsAttention,
    }
}

vocabulary! {
    /// A line of a resident's move history.
    MoveKind => core::MoveKind { MoveIn, MoveOut, Transfer }
}

vocabulary! {
    /// A line of a case's timeline.
    CaseEventKind => core::CaseEventKind { Created, Edited, PhotoAdded, Submitted, Verification, CallBack, ServerUpdate }
}

vocabulary! {
    /// Upload of a photo's file to the server (separate from its record).
    PhotoUploadState => core::PhotoUploadState {
        Pending,
        Uploading,
        /// The server confirmed the complete file with the matching SHA-256.
        Done,
    }
}

vocabulary! {
    /// Whether a photo's full-size file is still on the device.
    PhotoFileState => core::PhotoFileState {
        Present,
        /// Released after the server confirmed it (the record and thumbnail stay).
        Deleted,
    }
}

mirror_enum! {
    /// What an item of the daily list is.
    TodayKind => core::tasks::TodayKind {
        /// A task assigned by a supervisor or created by the worker.
        Task,
        /// A household due for a visit under the care-tier policy.
        VisitDue,
        /// A case waiting for on-site verification.
        VerifyCase,
        /// The day's patrol quota is not met yet.
        Patrol,
        /// A draft case not yet submitted.
        DraftCase,
    }
}

mirror_enum! {
    /// Length of a statistics period (weeks start on Monday, in the worker's calendar).
    Period => core::stats::Period { Day, Week, Month }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip_and_label() {
        for t in core::CareTier::ALL {
            assert_eq!(core::CareTier::from(CareTier::from(*t)), *t);
        }
        assert_eq!(CareTier::Close.label_zh(), "连心户");
        assert_eq!(CareTier::Close.code(), "close");
        assert_eq!(SyncStatus::LocalOnly.code(), "local");
        assert_eq!(VisitMode::InPerson.label_en(), "in person");
    }
}
