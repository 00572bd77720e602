// Households: search by any fragment, browse building → unit → floor, filter by care tier;
// a household with its residents (masked) and visits, each with its sync badge.
package org.gridwalk.android.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.unit.dp
import org.gridwalk.android.presentation.HouseholdDetailEvent
import org.gridwalk.android.presentation.HouseholdDetailState
import org.gridwalk.android.presentation.HouseholdsEvent
import org.gridwalk.android.presentation.HouseholdsState
import org.gridwalk.core.CareTier

@Composable
fun HouseholdsScreen(state: HouseholdsState, onEvent: (HouseholdsEvent) -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(s[Str.households_title], onBack) {
        ErrorBanner(state.error) { onEvent(HouseholdsEvent.Refresh) }
        Field(s[Str.households_search], state.query, { onEvent(HouseholdsEvent.SearchTyped(it)) }, hint = s[Str.households_search_hint])
        if (state.query.isNotBlank()) {
            Text(
                if (state.hits.isEmpty() && !state.searching) s[Str.households_no_result]
                else s.format(Str.households_results, state.hits.size),
                style = MaterialTheme.typography.labelLarge,
            )
            for (hit in state.hits) {
                ListLine({ onEvent(HouseholdsEvent.Open(hit.householdId)) }) {
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalAlignment = Alignment.CenterVertically) {
                        Badge(if (hit.kind == "resident") s[Str.households_resident] else s[Str.households_household], GridwalkColors.Primary)
                        Text(hit.title, style = MaterialTheme.typography.titleMedium)
                    }
                    Text(hit.address, style = MaterialTheme.typography.bodyMedium)
                }
            }
            return@ScreenFrame
        }
        Choices(listOf<CareTier?>(null) + CareTier.entries, state.careTier, { t ->
            t?.let { s.label(it.labelZh(), it.labelEn()) } ?: s[Str.households_all_tiers]
        }) { onEvent(HouseholdsEvent.CareTierChosen(it)) }
        SectionTitle(s[Str.households_buildings])
        Choices(state.buildings, state.building, { it }) { onEvent(HouseholdsEvent.BuildingChosen(it)) }
        if (state.units.isNotEmpty()) {
            SectionTitle(s[Str.households_units])
            Choices(listOf<String?>(null) + state.units, state.unit, { it ?: s[Str.households_all] }) {
                onEvent(HouseholdsEvent.UnitChosen(it))
            }
        }
        if (state.floors.isNotEmpty()) {
            SectionTitle(s[Str.households_floors])
            Choices(listOf<Int?>(null) + state.floors, state.floor, { f -> f?.let { s.format(Str.households_floor, it) } ?: s[Str.households_all] }) {
                onEvent(HouseholdsEvent.FloorChosen(it))
            }
        }
        for (h in state.households) {
            ListLine({ onEvent(HouseholdsEvent.Open(h.id)) }) {
                Text(h.addressLine, style = MaterialTheme.typography.titleMedium)
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    Badge(s.label(h.careTier.labelZh(), h.careTier.labelEn()), GridwalkColors.Primary)
                    SyncBadge(h.syncStatus)
                }
            }
        }
    }
}

@Composable
fun HouseholdScreen(state: HouseholdDetailState, onEvent: (HouseholdDetailEvent) -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(state.addressLine.ifEmpty { s[Str.households_household] }, onBack) {
        ErrorBanner(state.error) { onEvent(HouseholdDetailEvent.Refresh) }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            state.careTier?.let { Badge(s.label(it.labelZh(), it.labelEn()), GridwalkColors.Primary) }
            state.housingType?.let { Badge(s.label(it.labelZh(), it.labelEn()), GridwalkColors.Muted) }
            SyncBadge(state.syncStatus)
        }
        BigButton(s[Str.household_log_visit], { onEvent(HouseholdDetailEvent.LogVisit) })
        SectionTitle(s[Str.household_residents])
        if (state.residents.isEmpty() && !state.loading) Text(s[Str.household_no_residents])
        for (r in state.residents) {
            ListLine({ onEvent(HouseholdDetailEvent.EditResident(r.id)) }) {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalAlignment = Alignment.CenterVertically) {
                    Text(r.name, style = MaterialTheme.typography.titleMedium)
                    Text(s.label(r.relation.labelZh(), r.relation.labelEn()), style = MaterialTheme.typography.bodyMedium)
                    SyncBadge(r.syncStatus)
                }
                Text(
                    listOfNotNull(r.gender?.let { s.label(it.labelZh(), it.labelEn()) }, r.birthDate, r.idNumberMasked, r.phoneMasked)
                        .joinToString("  "),
                    style = MaterialTheme.typography.bodyMedium,
                )
            }
        }
        SecondButton(s[Str.household_add_resident], { onEvent(HouseholdDetailEvent.AddResident) })
        SectionTitle(s[Str.household_visits])
        if (state.visits.isEmpty() && !state.loading) Text(s[Str.household_no_visits])
        for (v in state.visits) {
            ListLine(null) {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalAlignment = Alignment.CenterVertically) {
                    Text(Formats.dateTime(v.visitedAtMs), style = MaterialTheme.typography.titleMedium)
                    SyncBadge(v.syncStatus)
                }
                Text(s.label(v.mode.labelZh(), v.mode.labelEn()) + " · " + s.label(v.outcome.labelZh(), v.outcome.labelEn()))
                v.notes?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
            }
        }
    }
}
