// Benchmark: how long the worker waits after opening the app on a grid of 10,000 households —
// from opening the store to the first today state through the view model, and from typing a
// two-character name to the search result. Prints figures; asserts nothing about speed.
//   full: 10,000 households, 10 rounds
//   GRIDWALK_BENCH_QUICK=1 (the test command's smoke run): 2,000 households, 3 rounds
package org.gridwalk.android.presentation.bench

import java.io.File
import java.nio.file.Files
import kotlin.system.exitProcess
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.gridwalk.android.presentation.GridwalkRepository
import org.gridwalk.android.presentation.HouseholdsEvent
import org.gridwalk.android.presentation.HouseholdsViewModel
import org.gridwalk.android.presentation.KeyProvider
import org.gridwalk.android.presentation.MapSavedState
import org.gridwalk.android.presentation.Outcome
import org.gridwalk.android.presentation.StoreOpener
import org.gridwalk.android.presentation.TodayViewModel
import org.gridwalk.core.GridLevel
import org.gridwalk.core.OrgUnit

private const val GRID = "640323001001001"
private val SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗".toList()
private val GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国".toList()
private const val NAME = "张伟"
/** The store is encrypted, as on the phone: every open derives the page key from this. */
private const val KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

/** A community ledger: flats in buildings of 3 units × 6 floors × 4 flats, 1–3 people
 *  each, two-character names (surname + given name), care tiers mixed. */
private fun ledger(households: Int): ByteArray {
    val sb = StringBuilder("社区,楼栋,单元,楼层,门牌,关爱等级,姓名,与户主关系\n")
    val tiers = listOf("放心户", "放心户", "放心户", "关心户", "连心户")
    var person = 0
    for (i in 0 until households) {
        val building = i / 72 + 1
        val unit = (i / 24) % 3 + 1
        val floor = (i / 4) % 6 + 1
        val room = floor * 100 + i % 4 + 1
        val people = i % 3 + 1
        for (k in 0 until people) {
            val name = "${SURNAMES[person % SURNAMES.size]}${GIVEN[(person / SURNAMES.size) % GIVEN.size]}"
            person++
            val relation = if (k == 0) "户主" else if (k == 1) "配偶" else "子"
            sb.append("幸福社区,${building}栋,${unit}单元,$floor,$room,${tiers[i % tiers.size]},$name,$relation\n")
        }
    }
    return sb.toString().toByteArray()
}

private fun <T> Outcome<T>.orDie(what: String): T = when (this) {
    is Outcome.Ok -> value
    is Outcome.Failed -> {
        System.err.println("bench: $what failed: $error")
        exitProcess(1)
    }
}

private fun ms(nanos: Long) = nanos / 1e6

private fun summary(label: String, xs: List<Double>) {
    val s = xs.sorted()
    println("  %-44s median %8.1f ms   min %8.1f   max %8.1f   (%d rounds)".format(label, s[s.size / 2], s.first(), s.last(), s.size))
}

fun main() = runBlocking {
    val quick = System.getenv("GRIDWALK_BENCH_QUICK") == "1"
    val rounds = if (quick) 3 else 10
    val households = if (quick) 2_000 else 10_000
    val dir = Files.createTempDirectory("gridwalk-bench").toFile()
    try {
        val path = File(dir, "work.db").path
        val setup = GridwalkRepository(StoreOpener(path, KeyProvider { KEY }), Dispatchers.IO)
        val t0 = System.nanoTime()
        val report = setup.call { s ->
            s.upsertOrgUnits(listOf(OrgUnit(code = GRID, name = "幸福社区第1网格", level = GridLevel.GRID, isMine = true)))
            s.importLedger(ledger(households), GRID)
        }.orDie("import")
        setup.close()
        println("open-to-today benchmark: ${report.householdsCreated} households, ${report.residentsCreated} residents " +
            "(ledger import %.1f s)%s".format((System.nanoTime() - t0) / 1e9, if (quick) " — quick mode" else ""))
        if (report.householdsCreated.toInt() != households || report.rejected.isNotEmpty()) {
            System.err.println("bench: the ledger did not import whole: $report")
            exitProcess(1)
        }

        val toToday = mutableListOf<Double>()
        val toSearch = mutableListOf<Double>()
        var rows = 0
        var hits = 0
        repeat(rounds) {
            val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
            val start = System.nanoTime()
            val repo = GridwalkRepository(StoreOpener(path, KeyProvider { KEY }), Dispatchers.IO)
            val today = TodayViewModel(repo, scope)
            val first = withTimeout(120_000) { today.state.first { !it.loading } }
            toToday += ms(System.nanoTime() - start)
            if (first.error != null) {
                System.err.println("bench: today failed: ${first.error}")
                exitProcess(1)
            }
            rows = first.rows.size

            val screen = HouseholdsViewModel(repo, MapSavedState(), scope, searchDelayMs = 0)
            withTimeout(120_000) { screen.state.first { !it.loading } }
            val typed = System.nanoTime()
            screen.onEvent(HouseholdsEvent.SearchTyped(NAME))
            val found = withTimeout(120_000) { screen.state.first { it.query == NAME && !it.searching } }
            toSearch += ms(System.nanoTime() - typed)
            hits = found.hits.size
            if (hits == 0 || found.error != null) {
                System.err.println("bench: no search result for $NAME: ${found.error}")
                exitProcess(1)
            }
            scope.cancel()
            repo.close()
        }
        summary("open store → first today state ($rows lines)", toToday)
        summary("type \"$NAME\" → search result ($hits hits)", toSearch)
    } finally {
        dir.deleteRecursively()
    }
}
