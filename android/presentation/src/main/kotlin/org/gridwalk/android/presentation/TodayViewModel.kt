// Today (今日待办): the core's daily list as it stands, nearest first when the phone knows
// where it is, each line one tap from the screen that does it.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import org.gridwalk.core.GeoPoint
import org.gridwalk.core.Priority
import org.gridwalk.core.TaskStatus
import org.gridwalk.core.TodayItem
import org.gridwalk.core.TodayKind

/** One line of today's list, as the screen shows it. */
data class TodayRow(
    val kind: TodayKind,
    val title: String,
    val detail: String,
    val priority: Priority,
    /** Whole days past due; 0 when due today (no badge). */
    val overdueDays: Long,
    /** Metres from the worker, when both positions are known. */
    val distanceM: Double?,
    val targetId: String?,
)

data class TodayState(
    val day: String = "",
    val rows: List<TodayRow> = emptyList(),
    val loading: Boolean = true,
    val error: UiError? = null,
    val navigateTo: Destination? = null,
)

sealed interface TodayEvent {
    /** Reload, optionally from where the phone is now. */
    data class Refresh(val position: GeoPoint? = null) : TodayEvent
    /** The one tap on a line: go and do it. */
    data class Act(val row: TodayRow) : TodayEvent
    data object NavigationDone : TodayEvent
}

class TodayViewModel(
    private val repo: GridwalkRepository,
    scope: CoroutineScope,
) : ScreenModel<TodayState, TodayEvent>(TodayState(), scope) {
    private var position: GeoPoint? = null

    init {
        load()
    }

    override fun onEvent(event: TodayEvent) {
        when (event) {
            is TodayEvent.Refresh -> {
                event.position?.let { position = it }
                load()
            }
            is TodayEvent.Act -> act(event.row)
            TodayEvent.NavigationDone -> update { it.copy(navigateTo = null) }
        }
    }

    private fun load() {
        update { it.copy(loading = true) }
        val at = position
        launch {
            repo.call { it.localToday() to it.today(at) }
                .onOk { (day, items) ->
                    update { it.copy(day = day, rows = items.map(::row), loading = false, error = null) }
                }
                .onFailed { e -> update { it.copy(loading = false, error = e) } }
        }
    }

    private fun act(row: TodayRow) {
        val id = row.targetId
        when (row.kind) {
            TodayKind.VISIT_DUE -> id?.let { go(Destination.Visit(it)) }
            TodayKind.VERIFY_CASE -> id?.let { go(Destination.Case(it)) }
            TodayKind.PATROL -> go(Destination.Patrol)
            TodayKind.DRAFT_CASE -> go(Destination.CaseDraft(id))
            TodayKind.TASK -> if (id != null) openTask(id)
        }
    }

    /** A task opens what it is about; a task about nothing in particular is done in one tap. */
    private fun openTask(taskId: String) = launch {
        repo.call { it.getTask(taskId) }
            .onOk { task ->
                val target = task.target
                when (target?.kind) {
                    "household" -> go(Destination.Household(target.id))
                    "case" -> go(Destination.Case(target.id))
                    "resident" -> repo.call { it.getResident(target.id) }
                        .onOk { r -> go(Destination.Household(r.householdId)) }
                        .onFailed { e -> update { it.copy(error = e) } }
                    else -> repo.call { it.finishTask(taskId, TaskStatus.DONE) }
                        .onOk { load() }
                        .onFailed { e -> update { it.copy(error = e) } }
                }
            }
            .onFailed { e -> update { it.copy(error = e) } }
    }

    private fun go(d: Destination) = update { it.copy(navigateTo = d) }

    private fun row(i: TodayItem) = TodayRow(
        kind = i.kind, title = i.title, detail = i.detail, priority = i.priority,
        overdueDays = i.overdueDays, distanceM = i.distanceM, targetId = i.targetId,
    )
}
