// The shape of every view model: one `StateFlow` of plain UI state, events in through
// `onEvent`, work launched in a scope the platform owns (viewModelScope on Android, a test scope
// in tests). No Android type appears here, so the same classes run on the JVM in tests.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

abstract class ScreenModel<S, E>(initial: S, protected val scope: CoroutineScope) {
    private val mutableState = MutableStateFlow(initial)
    val state: StateFlow<S> = mutableState.asStateFlow()

    abstract fun onEvent(event: E)

    protected fun update(f: (S) -> S) = mutableState.update(f)

    protected fun launch(block: suspend CoroutineScope.() -> Unit): Job = scope.launch(block = block)
}

/** Where a screen asks to go next; the app's navigation acts on it and sends the screen's
 *  `NavigationDone` event. */
sealed interface Destination {
    data object Today : Destination
    data object Households : Destination
    data class Household(val householdId: String) : Destination
    data class ResidentForm(val householdId: String, val residentId: String? = null) : Destination
    data class Visit(val householdId: String) : Destination
    data object Patrol : Destination
    data class CaseDraft(val caseId: String? = null) : Destination
    data object Cases : Destination
    data class Case(val caseId: String) : Destination
    data object Sync : Destination
    data object Stats : Destination
}
