// Cases (事件): the worker's cases with their status, the ones waiting for her on-site
// verification first (核查任务), and one case with its timeline, photos and the verification
// itself (after-photos, confirm or reject with a note). The after-photos the camera took wait in
// app-private files whose paths are kept in saved state until the verification is saved.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import org.gridwalk.core.Case
import org.gridwalk.core.CaseEventKind
import org.gridwalk.core.CaseStatus
import org.gridwalk.core.SyncStatus
import org.gridwalk.core.Urgency
import org.gridwalk.core.VerificationVerdict
import org.gridwalk.core.caseTypes

data class CaseRow(
    val id: String,
    val typeCode: String,
    val typeLabel: Bilingual,
    val status: CaseStatus,
    val urgency: Urgency,
    val description: String,
    val updatedAtMs: Long,
    val syncStatus: SyncStatus,
)

data class CasesState(
    /** Cases waiting for the worker's verification on site. */
    val toVerify: List<CaseRow> = emptyList(),
    val cases: List<CaseRow> = emptyList(),
    val loading: Boolean = true,
    val error: UiError? = null,
    val navigateTo: Destination? = null,
)

sealed interface CasesEvent {
    data object Refresh : CasesEvent
    data class Open(val caseId: String) : CasesEvent
    data object NewCase : CasesEvent
    data object NavigationDone : CasesEvent
}

class CasesViewModel(
    private val repo: GridwalkRepository,
    scope: CoroutineScope,
) : ScreenModel<CasesState, CasesEvent>(CasesState(), scope) {
    init {
        load()
    }

    override fun onEvent(event: CasesEvent) {
        when (event) {
            CasesEvent.Refresh -> load()
            is CasesEvent.Open -> update {
                val c = (it.cases + it.toVerify).firstOrNull { r -> r.id == event.caseId }
                it.copy(navigateTo = if (c?.status == CaseStatus.DRAFT) Destination.CaseDraft(event.caseId) else Destination.Case(event.caseId))
            }
            CasesEvent.NewCase -> update { it.copy(navigateTo = Destination.CaseDraft(null)) }
            CasesEvent.NavigationDone -> update { it.copy(navigateTo = null) }
        }
    }

    private fun load() {
        launch {
            repo.call { s ->
                val labels = caseTypes().associate { it.code to Bilingual(it.labelZh, it.labelEn) }
                s.listCases(null).map { caseRow(it, labels) }
            }
                .onOk { rows ->
                    update {
                        it.copy(
                            toVerify = rows.filter { r -> r.status == CaseStatus.VERIFICATION_REQUESTED },
                            cases = rows.filter { r -> r.status != CaseStatus.VERIFICATION_REQUESTED },
                            loading = false, error = null,
                        )
                    }
                }
                .onFailed { e -> update { it.copy(loading = false, error = e) } }
        }
    }
}

internal fun caseRow(c: Case, labels: Map<String, Bilingual>) = CaseRow(
    id = c.id, typeCode = c.typeCode, typeLabel = labels[c.typeCode] ?: Bilingual(c.typeCode, c.typeCode),
    status = c.status, urgency = c.urgency, description = c.description, updatedAtMs = c.updatedAtMs,
    syncStatus = c.syncStatus,
)

data class TimelineRow(val kind: CaseEventKind, val atMs: Long, val status: CaseStatus?, val note: String?)

data class CaseState(
    val caseId: String,
    val case: CaseRow? = null,
    val address: String? = null,
    val photos: List<PhotoThumb> = emptyList(),
    val timeline: List<TimelineRow> = emptyList(),
    /** The case waits for this worker's verification on site. */
    val canVerify: Boolean = false,
    /** A verification was saved and waits for sync. */
    val verificationSent: Boolean = false,
    /** After-photos taken for the verification, not saved yet (app-private files). */
    val afterPhotoPaths: List<String> = emptyList(),
    val note: String = "",
    val fieldErrors: Map<String, UiError> = emptyMap(),
    val error: UiError? = null,
    val busy: Boolean = false,
)

sealed interface CaseEvent {
    data object Refresh : CaseEvent
    data class AfterPhotoTaken(val path: String) : CaseEvent
    data class NoteChanged(val text: String) : CaseEvent
    /** 核查通过: the problem is fixed. */
    data object Confirm : CaseEvent
    /** 核查未通过: not fixed; the note says why. */
    data object Reject : CaseEvent
}

class CaseViewModel(
    private val repo: GridwalkRepository,
    private val saved: SavedState,
    caseId: String,
    scope: CoroutineScope,
) : ScreenModel<CaseState, CaseEvent>(
    CaseState(
        caseId = caseId,
        afterPhotoPaths = saved[K_PHOTOS]?.split('\n')?.filter { it.isNotEmpty() } ?: emptyList(),
        note = saved[K_NOTE] ?: "",
    ),
    scope,
) {
    init {
        load()
    }

    override fun onEvent(event: CaseEvent) {
        when (event) {
            CaseEvent.Refresh -> load()
            is CaseEvent.AfterPhotoTaken -> {
                update { it.copy(afterPhotoPaths = it.afterPhotoPaths + event.path, fieldErrors = it.fieldErrors - "after_photos") }
                saved[K_PHOTOS] = state.value.afterPhotoPaths.joinToString("\n")
            }
            is CaseEvent.NoteChanged -> {
                saved[K_NOTE] = event.text
                update { it.copy(note = event.text, fieldErrors = it.fieldErrors - "note") }
            }
            CaseEvent.Confirm -> verify(VerificationVerdict.VERIFIED)
            CaseEvent.Reject -> verify(VerificationVerdict.REJECTED)
        }
    }

    private fun load() = launch {
        val id = state.value.caseId
        repo.call { s ->
            val labels = caseTypes().associate { it.code to Bilingual(it.labelZh, it.labelEn) }
            val c = s.getCase(id)
            c to caseRow(c, labels)
        }
            .onOk { (c, row) -> show(c, row) }
            .onFailed { e -> update { it.copy(error = e) } }
    }

    private fun show(c: Case, row: CaseRow) {
        // A verification line after the latest request for one: sent, waiting for the server.
        val requestedAt = c.events
            .filter { it.kind == CaseEventKind.SERVER_UPDATE && it.status == CaseStatus.VERIFICATION_REQUESTED }
            .maxOfOrNull { it.atMs }
        val verifiedAt = c.events.filter { it.kind == CaseEventKind.VERIFICATION }.maxOfOrNull { it.atMs }
        val sent = c.status == CaseStatus.VERIFICATION_REQUESTED && verifiedAt != null &&
            (requestedAt == null || verifiedAt >= requestedAt)
        update {
            it.copy(
                case = row, address = c.address,
                photos = c.photos.map { p -> PhotoThumb(p.id, p.thumbPath) },
                timeline = c.events.sortedBy { e -> e.atMs }.map { e -> TimelineRow(e.kind, e.atMs, e.status, e.note) },
                canVerify = c.status == CaseStatus.VERIFICATION_REQUESTED && !sent,
                verificationSent = sent,
            )
        }
    }

    private fun verify(verdict: VerificationVerdict) {
        val s = state.value
        if (s.busy || !s.canVerify) return
        update { it.copy(busy = true, error = null) }
        launch {
            repo.verifyCase(s.caseId, verdict, s.note.trim().ifEmpty { null }, s.afterPhotoPaths)
                .onOk { c ->
                    saved[K_PHOTOS] = null
                    saved[K_NOTE] = null
                    update { it.copy(busy = false, afterPhotoPaths = emptyList(), note = "") }
                    load()
                }
                .onFailed { e ->
                    update {
                        if (e.field != null) it.copy(busy = false, fieldErrors = it.fieldErrors + (e.field.substringBefore('[') to e))
                        else it.copy(busy = false, error = e)
                    }
                }
        }
    }

    companion object {
        private const val K_PHOTOS = "case.after_photos"
        private const val K_NOTE = "case.verify_note"
    }
}
