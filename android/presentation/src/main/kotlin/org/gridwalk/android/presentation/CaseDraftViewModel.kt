// A case draft (事件上报): category → sub-type (the six categories of the taxonomy, from the
// core), urgency, a description, photos with thumbnails, where it is; then submit. The draft
// is the core's: created as soon as a sub-type is chosen and saved on every change, so a killed
// app finds it again (saved state keeps only its id, and the choices made before it existed).
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.gridwalk.core.Case
import org.gridwalk.core.CaseInput
import org.gridwalk.core.CaseType
import org.gridwalk.core.GeoPoint
import org.gridwalk.core.PhotoOwner
import org.gridwalk.core.Urgency
import org.gridwalk.core.caseTypes

data class CaseTypeChoice(val code: String, val labelZh: String, val labelEn: String)

data class PhotoThumb(val id: String, val thumbPath: String?)

data class CaseDraftState(
    val categories: List<CaseTypeChoice> = emptyList(),
    val category: String? = null,
    val subTypes: List<CaseTypeChoice> = emptyList(),
    val typeCode: String? = null,
    val urgency: Urgency = Urgency.NORMAL,
    val description: String = "",
    val address: String = "",
    val location: GeoPoint? = null,
    val gridCode: String? = null,
    val photos: List<PhotoThumb> = emptyList(),
    /** The core's draft, once a sub-type was chosen. */
    val draftId: String? = null,
    val fieldErrors: Map<String, UiError> = emptyMap(),
    val error: UiError? = null,
    val busy: Boolean = false,
    val submittedCaseId: String? = null,
    val navigateTo: Destination? = null,
)

sealed interface CaseDraftEvent {
    data class CategoryChosen(val code: String) : CaseDraftEvent
    data class SubTypeChosen(val code: String) : CaseDraftEvent
    data class UrgencyChosen(val urgency: Urgency) : CaseDraftEvent
    data class DescriptionChanged(val text: String) : CaseDraftEvent
    data class AddressChanged(val text: String) : CaseDraftEvent
    data class LocationFixed(val point: GeoPoint) : CaseDraftEvent
    /** The camera wrote a photo to this app-private file. */
    data class PhotoTaken(val path: String) : CaseDraftEvent
    data object Submit : CaseDraftEvent
    data object Discard : CaseDraftEvent
    data object NavigationDone : CaseDraftEvent
}

class CaseDraftViewModel(
    private val repo: GridwalkRepository,
    private val saved: SavedState,
    draftId: String?,
    scope: CoroutineScope,
) : ScreenModel<CaseDraftState, CaseDraftEvent>(
    CaseDraftState(
        draftId = draftId ?: saved[K_DRAFT],
        category = saved[K_CATEGORY],
        urgency = saved[K_URGENCY]?.let { n -> Urgency.entries.firstOrNull { it.name == n } } ?: Urgency.NORMAL,
        description = saved[K_DESCRIPTION] ?: "",
        address = saved[K_ADDRESS] ?: "",
    ),
    scope,
) {
    /** Saves run one after another, in the order the worker made the changes. */
    private val writes = Mutex()
    private var types: List<CaseType> = emptyList()

    init {
        launch {
            repo.call { s -> caseTypes() to s.myGrids().firstOrNull()?.code }
                .onOk { (all, grid) ->
                    types = all
                    update { it.copy(categories = all.filter { t -> t.code.length == 2 }.map(::choice), gridCode = grid) }
                    update { it.copy(subTypes = subTypesOf(it.category)) }
                }
                .onFailed { e -> update { it.copy(error = e) } }
            state.value.draftId?.let { id ->
                saved[K_DRAFT] = id
                repo.call { it.getCase(id) }.onOk(::show).onFailed { e -> update { it.copy(error = e) } }
            }
        }
    }

    override fun onEvent(event: CaseDraftEvent) {
        when (event) {
            is CaseDraftEvent.CategoryChosen -> {
                saved[K_CATEGORY] = event.code
                update {
                    it.copy(category = event.code, subTypes = subTypesOf(event.code),
                        typeCode = it.typeCode?.takeIf { t -> t.startsWith(event.code) })
                }
            }
            is CaseDraftEvent.SubTypeChosen -> change("type_code") { it.copy(typeCode = event.code) }
            is CaseDraftEvent.UrgencyChosen -> {
                saved[K_URGENCY] = event.urgency.name
                change("urgency") { it.copy(urgency = event.urgency) }
            }
            is CaseDraftEvent.DescriptionChanged -> {
                saved[K_DESCRIPTION] = event.text
                change("description") { it.copy(description = event.text) }
            }
            is CaseDraftEvent.AddressChanged -> {
                saved[K_ADDRESS] = event.text
                change("address") { it.copy(address = event.text) }
            }
            is CaseDraftEvent.LocationFixed -> change("location") { it.copy(location = event.point) }
            is CaseDraftEvent.PhotoTaken -> addPhoto(event.path)
            CaseDraftEvent.Submit -> submit()
            CaseDraftEvent.Discard -> discard()
            CaseDraftEvent.NavigationDone -> update { it.copy(navigateTo = null) }
        }
    }

    /** Applies a change on screen and saves it to the core's draft (creating it once a
     *  sub-type is known). */
    private fun change(field: String, f: (CaseDraftState) -> CaseDraftState) {
        update { f(it).copy(fieldErrors = it.fieldErrors - field, error = null) }
        launch { save() }
    }

    private suspend fun save(): Boolean = writes.withLock {
        val s = state.value
        val type = s.typeCode ?: return@withLock false
        val grid = s.gridCode ?: return@withLock false
        val input = CaseInput(
            typeCode = type, urgency = s.urgency, gridCode = grid, description = s.description,
            location = s.location, address = s.address.trim().ifEmpty { null },
        )
        val id = s.draftId
        val outcome = if (id == null) repo.call { it.draftCase(input) } else repo.call { it.updateDraft(id, input) }
        outcome
            .onOk { c ->
                saved[K_DRAFT] = c.id
                update { it.copy(draftId = c.id) }
            }
            .onFailed { e -> fail(e) }
        outcome is Outcome.Ok
    }

    private fun addPhoto(path: String) = launch {
        if (state.value.draftId == null && !save()) {
            update { it.copy(fieldErrors = it.fieldErrors + ("type_code" to chooseTypeFirst())) }
            return@launch
        }
        val id = state.value.draftId ?: return@launch
        repo.call { s -> s.addPhotoFile(PhotoOwner.Case(id), path); s.getCase(id) }
            .onOk(::show)
            .onFailed { e -> fail(e) }
    }

    private fun submit() {
        if (state.value.busy) return
        update { it.copy(busy = true) }
        launch {
            if (!save()) {
                if (state.value.typeCode == null) {
                    update { it.copy(fieldErrors = it.fieldErrors + ("type_code" to chooseTypeFirst())) }
                }
                update { it.copy(busy = false) }
                return@launch
            }
            val id = state.value.draftId ?: return@launch
            repo.call { it.submitCase(id) }
                .onOk { c ->
                    clearSaved()
                    update { it.copy(busy = false, submittedCaseId = c.id, navigateTo = Destination.Case(c.id)) }
                }
                .onFailed { e ->
                    fail(e)
                    update { it.copy(busy = false) }
                }
        }
    }

    private fun discard() = launch {
        val id = state.value.draftId
        if (id == null) {
            clearSaved()
            update { it.copy(navigateTo = Destination.Today) }
            return@launch
        }
        repo.call { it.discardDraft(id) }
            .onOk {
                clearSaved()
                update { it.copy(draftId = null, navigateTo = Destination.Today) }
            }
            .onFailed { e -> fail(e) }
    }

    private fun show(c: Case) {
        update {
            it.copy(
                draftId = c.id, category = c.categoryCode, subTypes = subTypesOf(c.categoryCode),
                typeCode = c.typeCode, urgency = c.urgency, description = c.description,
                address = c.address ?: "", location = c.location, gridCode = c.gridCode,
                photos = c.photos.map { p -> PhotoThumb(p.id, p.thumbPath) },
            )
        }
    }

    private fun fail(e: UiError) = update {
        if (e.field != null) it.copy(fieldErrors = it.fieldErrors + (e.field.substringBefore('[') to e))
        else it.copy(error = e)
    }

    private fun subTypesOf(category: String?): List<CaseTypeChoice> =
        if (category == null) emptyList()
        else types.filter { it.code.length == 4 && it.categoryCode == category }.map(::choice)

    private fun choice(t: CaseType) = CaseTypeChoice(t.code, t.labelZh, t.labelEn)

    private fun chooseTypeFirst() =
        UiError(ErrorKind.FIELD, Bilingual("请先选择事件类型", "choose the case type first"), "required", field = "type_code")

    private fun clearSaved() {
        for (k in listOf(K_DRAFT, K_CATEGORY, K_URGENCY, K_DESCRIPTION, K_ADDRESS)) saved[k] = null
    }

    companion object {
        private const val K_DRAFT = "case.draft_id"
        private const val K_CATEGORY = "case.category"
        private const val K_URGENCY = "case.urgency"
        private const val K_DESCRIPTION = "case.description"
        private const val K_ADDRESS = "case.address"
    }
}
