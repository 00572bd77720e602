// Every screen rendered on the desktop JVM with Compose's UI test API (headless, software
// rendering): the state a view model would hold, assertions on what the worker sees, taps that
// must send the right event, and a PNG of the screen (Chinese text, phone-sized, 2x density) in
// the folder named by -Dgridwalk.screenshots.
package org.gridwalk.android.ui

import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.runtime.Composable
import androidx.compose.runtime.CompositionLocalProvider
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.toAwtImage
import androidx.compose.ui.platform.LocalDensity
import androidx.compose.ui.test.ComposeUiTest
import androidx.compose.ui.test.ExperimentalTestApi
import androidx.compose.ui.test.assertIsDisplayed
import androidx.compose.ui.test.assertIsNotEnabled
import androidx.compose.ui.test.captureToImage
import androidx.compose.ui.test.onNodeWithContentDescription
import androidx.compose.ui.test.onNodeWithText
import androidx.compose.ui.test.onRoot
import androidx.compose.ui.test.performClick
import androidx.compose.ui.test.performScrollTo
import androidx.compose.ui.test.performTextInput
import androidx.compose.ui.test.v2.runDesktopComposeUiTest
import androidx.compose.ui.unit.Density
import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.nio.file.Files
import javax.imageio.ImageIO
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import org.gridwalk.android.presentation.AttentionRow
import org.gridwalk.android.presentation.Bilingual
import org.gridwalk.android.presentation.CaseDraftEvent
import org.gridwalk.android.presentation.CaseDraftState
import org.gridwalk.android.presentation.CaseEvent
import org.gridwalk.android.presentation.CaseRow
import org.gridwalk.android.presentation.CaseState
import org.gridwalk.android.presentation.CaseTypeChoice
import org.gridwalk.android.presentation.CasesEvent
import org.gridwalk.android.presentation.CasesState
import org.gridwalk.android.presentation.CategoryCount
import org.gridwalk.android.presentation.ConflictRow
import org.gridwalk.android.presentation.Destination
import org.gridwalk.android.presentation.ErrorKind
import org.gridwalk.android.presentation.FinishedPatrol
import org.gridwalk.android.presentation.GridChoice
import org.gridwalk.android.presentation.HouseholdDetailEvent
import org.gridwalk.android.presentation.HouseholdDetailState
import org.gridwalk.android.presentation.HouseholdRow
import org.gridwalk.android.presentation.HouseholdsEvent
import org.gridwalk.android.presentation.HouseholdsState
import org.gridwalk.android.presentation.PatrolEvent
import org.gridwalk.android.presentation.PatrolState
import org.gridwalk.android.presentation.PhotoThumb
import org.gridwalk.android.presentation.ResidentFormEvent
import org.gridwalk.android.presentation.ResidentFormState
import org.gridwalk.android.presentation.ResidentRow
import org.gridwalk.android.presentation.SearchRow
import org.gridwalk.android.presentation.SignInEvent
import org.gridwalk.android.presentation.SignInState
import org.gridwalk.android.presentation.StatsState
import org.gridwalk.android.presentation.SyncEvent
import org.gridwalk.android.presentation.SyncState
import org.gridwalk.android.presentation.SyncSummary
import org.gridwalk.android.presentation.TimelineRow
import org.gridwalk.android.presentation.TodayEvent
import org.gridwalk.android.presentation.TodayRow
import org.gridwalk.android.presentation.TodayState
import org.gridwalk.android.presentation.UiError
import org.gridwalk.android.presentation.VisitEvent
import org.gridwalk.android.presentation.VisitRow
import org.gridwalk.android.presentation.VisitState
import org.gridwalk.core.CareTier
import org.gridwalk.core.CaseEventKind
import org.gridwalk.core.CaseStatus
import org.gridwalk.core.Gender
import org.gridwalk.core.GeoPoint
import org.gridwalk.core.HousingType
import org.gridwalk.core.Period
import org.gridwalk.core.Priority
import org.gridwalk.core.Relation
import org.gridwalk.core.SpecialGroup
import org.gridwalk.core.SyncPhase
import org.gridwalk.core.SyncStatus
import org.gridwalk.core.TodayKind
import org.gridwalk.core.Urgency
import org.gridwalk.core.VisitMode
import org.gridwalk.core.VisitOutcome
import org.gridwalk.core.caseTypes
import org.junit.jupiter.api.Test

/** A phone: 412 × 892 dp at density 2. */
private const val W = 824
private const val H = 1784
private const val T0 = 1_764_547_200_000L // 2025-12-01 00:00 UTC

@OptIn(ExperimentalTestApi::class)
class ScreensTest {
    private val shots: File = File(System.getProperty("gridwalk.screenshots") ?: Files.createTempDirectory("shots").toString())
        .also { it.mkdirs() }

    /** Renders [content] as the app would, runs [check], and writes the screen to NAME.png. */
    private fun screen(
        name: String,
        language: String = "zh-CN",
        fontScale: Float = 1f,
        check: ComposeUiTest.() -> Unit = {},
        content: @Composable () -> Unit,
    ) = runDesktopComposeUiTest(W, H) {
        setContent {
            CompositionLocalProvider(
                LocalDensity provides Density(2f, fontScale),
                LocalStrings provides XmlStrings(language),
                LocalThumbnails provides SkiaThumbnails,
            ) {
                GridwalkTheme { Box(Modifier.fillMaxSize()) { content() } }
            }
        }
        waitForIdle()
        check()
        waitForIdle()
        val image = onRoot().captureToImage().toAwtImage()
        val file = File(shots, "$name.png")
        ImageIO.write(image, "png", file)
        assertTrue(file.length() > 10_000, "$name.png was written")
        assertInked(image, name)
    }

    /** The screenshot is not blank: a good share of its pixels is dark text or colour. */
    private fun assertInked(img: BufferedImage, name: String) {
        var dark = 0
        for (x in 0 until img.width step 4) for (y in 0 until img.height step 4) {
            val rgb = img.getRGB(x, y)
            val lum = ((rgb shr 16) and 0xff) + ((rgb shr 8) and 0xff) + (rgb and 0xff)
            if (lum < 300) dark++
        }
        assertTrue(dark > 200, "$name looks blank ($dark dark samples)")
    }

    private fun fieldError(code: String, zh: String, en: String, field: String) =
        UiError(ErrorKind.FIELD, Bilingual(zh, en), code, field = field)

    private val todayState = TodayState(
        day = "2025-12-01", loading = false,
        rows = listOf(
            TodayRow(TodayKind.VERIFY_CASE, "核查：电动车飞线充电", "12栋1单元楼道", Priority.HIGH, 0, 120.0, "case-1"),
            TodayRow(TodayKind.VISIT_DUE, "走访 连心户", "幸福社区 3栋 2单元 502", Priority.HIGH, 3, 320.0, "hh-1"),
            TodayRow(TodayKind.VISIT_DUE, "走访 关心户", "幸福社区 7栋 1单元 101", Priority.NORMAL, 0, 1240.0, "hh-2"),
            TodayRow(TodayKind.PATROL, "巡查（今日 0/2）", "幸福社区第1网格", Priority.NORMAL, 0, null, null),
            TodayRow(TodayKind.DRAFT_CASE, "未上报的事件草稿", "井盖缺失", Priority.NORMAL, 1, null, "case-2"),
            TodayRow(TodayKind.TASK, "收集新生儿信息", "社区下发", Priority.LOW, 0, null, "task-1"),
        ),
    )

    @Test
    fun `sign-in shows the refusal under the password`() {
        val events = mutableListOf<SignInEvent>()
        val state = SignInState(
            serverUrl = "https://gridwalk.example.cn", username = "wangfang",
            fieldErrors = mapOf("password" to UiError(ErrorKind.SIGN_IN_AGAIN, Bilingual("用户名或密码错误", "wrong user name or password"), "bad_credentials")),
        )
        screen("01-sign-in", check = {
            onNodeWithText("用户名或密码错误").assertIsDisplayed()
            onNodeWithContentDescription("用户名").performTextInput("x")
            onNodeWithText("登录").performClick()
        }) { SignInScreen(state) { events += it } }
        // Typing reaches the view model as the field's new text.
        val typed = events.filterIsInstance<SignInEvent.UsernameChanged>()
        assertTrue(typed.any { it.text.length == 9 && it.text.contains("x") && it.text.replace("x", "") == "wangfang" }, "$events")
        assertEquals(SignInEvent.SignIn, events.last())
    }

    @Test
    fun `today lists work with overdue badges and distance, one tap to act`() {
        val events = mutableListOf<TodayEvent>()
        val nav = mutableListOf<Destination>()
        screen("02-today", check = {
            onNodeWithText("逾期 3 天").assertIsDisplayed()
            onNodeWithText("320 米").assertIsDisplayed()
            onNodeWithText("1.2 公里").assertIsDisplayed()
            onNodeWithText("核查：电动车飞线充电").performClick()
        }) { TodayScreen(todayState, { events += it }, { nav += it }) }
        assertEquals(TodayEvent.Act(todayState.rows[0]), events.single())
    }

    @Test
    fun `today in English`() {
        screen("02-today-en", language = "en", check = {
            onNodeWithText("3 days overdue").assertIsDisplayed()
            onNodeWithText("Households").assertIsDisplayed()
        }) { TodayScreen(todayState, {}, {}) }
    }

    @Test
    fun `today with the system font at 150 percent`() {
        screen("02-today-large-font", fontScale = 1.5f, check = {
            onNodeWithText("逾期 3 天").assertIsDisplayed()
        }) { TodayScreen(todayState, {}, {}) }
    }

    @Test
    fun `households browse by building, unit and floor`() {
        val events = mutableListOf<HouseholdsEvent>()
        val state = HouseholdsState(
            loading = false, careTier = CareTier.CLOSE,
            buildings = listOf("1栋", "2栋", "3栋", "10栋", "12栋"), building = "3栋",
            units = listOf("1单元", "2单元"), unit = "2单元", floors = listOf(1, 2, 3, 4, 5, 6), floor = 5,
            households = listOf(
                HouseholdRow("hh-1", "幸福社区 3栋 2单元 501", CareTier.CLOSE, SyncStatus.SYNCED),
                HouseholdRow("hh-3", "幸福社区 3栋 2单元 502", CareTier.CLOSE, SyncStatus.PENDING),
            ),
        )
        screen("03-households", check = {
            onNodeWithText("幸福社区 3栋 2单元 502").performClick()
            onNodeWithText("待同步").assertIsDisplayed()
        }) { HouseholdsScreen(state, { events += it }, {}) }
        assertEquals(HouseholdsEvent.Open("hh-3"), events.single())
    }

    @Test
    fun `households search by any fragment`() {
        val state = HouseholdsState(
            loading = false, query = "建国",
            hits = listOf(
                SearchRow("resident", "r-1", "hh-1", "王建国", "幸福社区 3栋 2单元 502", true),
                SearchRow("resident", "r-2", "hh-4", "李建国", "幸福社区 8栋 1单元 301", true),
                SearchRow("household", "hh-5", "hh-5", "幸福社区 建国路 12号", "幸福社区 建国路 12号", true),
            ),
        )
        screen("04-households-search", check = { onNodeWithText("找到 3 条").assertIsDisplayed() }) {
            HouseholdsScreen(state, {}, {})
        }
    }

    @Test
    fun `a household with masked residents, visits and sync badges`() {
        val events = mutableListOf<HouseholdDetailEvent>()
        val state = HouseholdDetailState(
            householdId = "hh-1", addressLine = "幸福社区 3栋 2单元 502", careTier = CareTier.CLOSE,
            housingType = HousingType.OWNED, syncStatus = SyncStatus.SYNCED, loading = false,
            residents = listOf(
                ResidentRow("r-1", "王建国", Relation.HEAD, Gender.MALE, "1980-01-01", "640323********1235", "139****5678", SyncStatus.SYNCED),
                ResidentRow("r-2", "李秀英", Relation.SPOUSE, Gender.FEMALE, "1982-03-15", "640323********1244", null, SyncStatus.LOCAL_ONLY),
            ),
            visits = listOf(
                VisitRow("v-1", T0 + 9 * 3_600_000, VisitMode.IN_PERSON, VisitOutcome.FINE, "老人身体好，家中整洁", SyncStatus.PENDING),
                VisitRow("v-0", T0 - 8 * 86_400_000, VisitMode.NOT_AT_HOME, VisitOutcome.NO_CONTACT, null, SyncStatus.SYNCED),
            ),
        )
        screen("05-household", check = {
            onNodeWithText("640323********1235", substring = true).assertIsDisplayed()
            onNodeWithText("记录走访").performClick()
        }) { HouseholdScreen(state, { events += it }, {}) }
        assertEquals(HouseholdDetailEvent.LogVisit, events.single())
    }

    @Test
    fun `the resident form shows a wrong ID number on its field`() {
        val events = mutableListOf<ResidentFormEvent>()
        val state = ResidentFormState(
            householdId = "hh-1", name = "王建国", idNumber = "640323198001011234", phone = "13912345678",
            fieldErrors = mapOf("id_number" to fieldError("invalid_checksum", "身份证号校验位错误", "ID number check digit is wrong", "id_number")),
        )
        screen("06-resident-form-error", check = {
            onNodeWithText("身份证号校验位错误").assertIsDisplayed()
            onNodeWithContentDescription("身份证号").performTextInput("5")
        }) { ResidentFormScreen(state, { events += it }, {}) }
        val typed = events.filterIsInstance<ResidentFormEvent.IdNumberChanged>()
        // The typed character reaches the view model as the field's new text (the field then
        // shows the state's text until the view model answers).
        assertTrue(typed.any { it.text.length == 19 && it.text.replace("5", "").length < 19 }, "$events")
    }

    @Test
    fun `the resident form fills gender and birth date from the ID number`() {
        val state = ResidentFormState(
            householdId = "hh-1", name = "王建国", idNumber = "640323198001011235", phone = "13912345678",
            gender = Gender.MALE, birthDate = "1980-01-01", derivedFromIdNumber = true,
            specialGroups = setOf(SpecialGroup.VETERAN),
        )
        screen("07-resident-form-filled", check = {
            onNodeWithText("由身份证号自动填写").assertIsDisplayed()
            onNodeWithContentDescription("出生日期（年-月-日）").assertIsNotEnabled()
        }) { ResidentFormScreen(state, {}, {}) }
    }

    @Test
    fun `a visit, with nobody home one tap away`() {
        val events = mutableListOf<VisitEvent>()
        val state = VisitState(householdId = "hh-1", addressLine = "幸福社区 3栋 2单元 502", notes = "电话联系，说明周三在家")
        screen("08-visit", check = { onNodeWithText("不在家").performClick() }) { VisitScreen(state, { events += it }, {}) }
        assertEquals(VisitEvent.NotAtHome, events.single())
    }

    @Test
    fun `a running patrol with its track`() {
        val events = mutableListOf<PatrolEvent>()
        val track = (0 until 40).map { i ->
            GeoPoint(37.7800 + (if (i < 20) i else 20) * 0.00012, 107.4000 + (if (i < 20) 0 else i - 20) * 0.00015)
        }
        val state = PatrolState(
            grids = listOf(GridChoice("640323001001001", "幸福社区第1网格")), gridCode = "640323001001001",
            running = true, patrolId = "p-1", startedAtMs = T0, distanceM = 1_534.0, durationS = 1_385, fixes = 40, track = track,
        )
        screen("09-patrol", check = {
            onNodeWithText("1.5 公里").assertIsDisplayed()
            onNodeWithText("23:05").assertIsDisplayed()
            onNodeWithText("结束巡查").performClick()
        }) { PatrolScreen(state, { events += it }, {}) }
        assertEquals(PatrolEvent.Stop, events.single())
    }

    @Test
    fun `a finished patrol says whether it counts`() {
        val state = PatrolState(
            grids = listOf(GridChoice("640323001001001", "幸福社区第1网格")), gridCode = "640323001001001",
            distanceM = 86.0, durationS = 95, fixes = 12, lastFinished = FinishedPatrol("p-2", 86.0, 95, counts = false),
        )
        screen("10-patrol-finished", check = { onNodeWithText("本次巡查时间或距离不足，不计入今日任务").assertIsDisplayed() }) {
            PatrolScreen(state, {}, {})
        }
    }

    @Test
    fun `a case draft with category, sub-type and a photo`() {
        val events = mutableListOf<CaseDraftEvent>()
        val types = caseTypes()
        val photo = jpeg()
        val state = CaseDraftState(
            categories = types.filter { it.code.length == 2 }.map { CaseTypeChoice(it.code, it.labelZh, it.labelEn) },
            category = "02",
            subTypes = types.filter { it.code.length == 4 && it.categoryCode == "02" }.map { CaseTypeChoice(it.code, it.labelZh, it.labelEn) },
            typeCode = "0203", urgency = Urgency.URGENT, description = "12栋楼道内电动车飞线充电，已提醒住户",
            address = "12栋1单元楼道", location = GeoPoint(37.78012, 107.40034), gridCode = "640323001001001",
            photos = listOf(PhotoThumb("ph-1", photo.path), PhotoThumb("ph-2", photo.path)), draftId = "case-3",
        )
        assertEquals(6, state.categories.size)
        screen("11-case-draft", check = {
            onNodeWithText("草稿已自动保存").assertIsDisplayed()
            onNodeWithText("上报").performScrollTo().performClick()
        }) { CaseDraftScreen(state, { events += it }, {}, {}, {}) }
        assertEquals(CaseDraftEvent.Submit, events.single())
    }

    @Test
    fun `the cases list puts verification first`() {
        val events = mutableListOf<CasesEvent>()
        fun row(id: String, type: String, zh: String, status: CaseStatus, urgency: Urgency, d: String, sync: SyncStatus) =
            CaseRow(id, type, Bilingual(zh, zh), status, urgency, d, T0, sync)
        val state = CasesState(
            loading = false,
            toVerify = listOf(row("case-1", "0203", "电动车违规停放充电", CaseStatus.VERIFICATION_REQUESTED, Urgency.URGENT, "12栋楼道内飞线充电", SyncStatus.SYNCED)),
            cases = listOf(
                row("case-2", "0301", "井盖缺失", CaseStatus.DRAFT, Urgency.EMERGENCY, "井盖缺失，有人跌落危险", SyncStatus.LOCAL_ONLY),
                row("case-4", "0401", "乱堆乱放", CaseStatus.HANDLING, Urgency.NORMAL, "3栋门口堆放建筑垃圾", SyncStatus.SYNCED),
            ),
        )
        screen("12-cases", check = { onNodeWithText("12栋楼道内飞线充电").performClick() }) { CasesScreen(state, { events += it }, {}) }
        assertEquals(CasesEvent.Open("case-1"), events.single())
    }

    @Test
    fun `a case waiting for verification on site`() {
        val events = mutableListOf<CaseEvent>()
        val photo = jpeg()
        val state = CaseState(
            caseId = "case-1",
            case = CaseRow("case-1", "0203", Bilingual("电动车违规停放充电", "e-bike charging"), CaseStatus.VERIFICATION_REQUESTED, Urgency.URGENT, "12栋楼道内电动车飞线充电", T0, SyncStatus.SYNCED),
            address = "12栋1单元楼道", photos = listOf(PhotoThumb("ph-1", photo.path)), canVerify = true,
            afterPhotoPaths = listOf(photo.path), note = "已拆除飞线，车辆移至充电棚",
            timeline = listOf(
                TimelineRow(CaseEventKind.CREATED, T0, CaseStatus.DRAFT, null),
                TimelineRow(CaseEventKind.SUBMITTED, T0 + 60_000, CaseStatus.SUBMITTED, null),
                TimelineRow(CaseEventKind.SERVER_UPDATE, T0 + 3_600_000, CaseStatus.ACCEPTED, null),
                TimelineRow(CaseEventKind.SERVER_UPDATE, T0 + 7_200_000, CaseStatus.DISPATCHED, "城管中队"),
                TimelineRow(CaseEventKind.SERVER_UPDATE, T0 + 86_400_000, CaseStatus.VERIFICATION_REQUESTED, null),
            ),
        )
        screen("13-case-verify", check = {
            onNodeWithText("整改后照片：1 张").assertIsDisplayed()
            onNodeWithText("核查通过").performClick()
        }) { CaseScreen(state, { events += it }, {}, {}) }
        assertEquals(CaseEvent.Confirm, events.single())
    }

    @Test
    fun `sync in progress`() {
        val events = mutableListOf<SyncEvent>()
        val state = SyncState(signedIn = true, lastSyncMs = T0 - 3_600_000, pendingCount = 42, running = true, phase = SyncPhase.PUSH, done = 17, total = 42)
        screen("14-sync-running", check = {
            onNodeWithText("正在上传  17 / 42").assertIsDisplayed()
            onNodeWithText("取消").performClick()
        }) { SyncScreen(state, { events += it }, {}) }
        assertEquals(SyncEvent.Cancel, events.single())
    }

    @Test
    fun `sync with conflicts and changes that need attention`() {
        val events = mutableListOf<SyncEvent>()
        val state = SyncState(
            signedIn = true, lastSyncMs = T0, pendingCount = 1,
            lastSummary = SyncSummary(pushed = 12, rejected = 1, conflicts = 1, pulled = 30, photosUploaded = 2, photosFailed = 0),
            conflicts = listOf(ConflictRow("c-1", "household", "address.room", "502", "503")),
            attention = listOf(AttentionRow("ch-1", "resident", "create", "invalid", "身份证号已被其他住户使用 / the ID number is already registered", "id_number", 2)),
        )
        screen("15-sync-attention", check = {
            onNodeWithText("住户 · 地址").assertIsDisplayed()
            onNodeWithText("人员 · 新增 · 身份证号").assertIsDisplayed()
            onNodeWithText("保留当前").performClick()
            onNodeWithText("重试").performClick()
        }) { SyncScreen(state, { events += it }, {}) }
        assertEquals(listOf(SyncEvent.KeepCurrent("c-1"), SyncEvent.Retry("ch-1")), events)
    }

    @Test
    fun `statistics for the week`() {
        val state = StatsState(
            period = Period.WEEK, firstDay = "2025-12-01", lastDay = "2025-12-07", visits = 23,
            visitsByMode = mapOf(VisitMode.IN_PERSON to 15L, VisitMode.PHONE to 6L, VisitMode.NOT_AT_HOME to 2L),
            householdsVisited = 19, patrols = 9, patrolsTooShort = 1, patrolMinutes = 412, patrolKm = 21.4, cases = 4,
            casesByCategory = listOf(CategoryCount("02", Bilingual("公共安全", "public safety"), 3), CategoryCount("03", Bilingual("城市管理", "city management"), 1)),
            loading = false,
        )
        screen("16-stats", check = { onNodeWithText("2025-12-01 至 2025-12-07").assertIsDisplayed() }) { StatsScreen(state, {}, {}) }
    }

    @Test
    fun `every string name exists in both languages`() {
        val zh = XmlStrings.load("res/values/strings.xml")
        val en = XmlStrings.load("res/values-en/strings.xml")
        val names = Str.entries.map { it.name }.toSet()
        assertEquals(names, zh.keys, "zh-CN strings.xml and Str differ")
        assertEquals(names, en.keys, "English strings.xml and Str differ")
        assertTrue(zh.values.none { it.isBlank() } && en.values.none { it.isBlank() })
    }

    private fun jpeg(): File {
        val img = BufferedImage(160, 120, BufferedImage.TYPE_INT_RGB)
        for (x in 0 until 160) for (y in 0 until 120) img.setRGB(x, y, ((x + y) % 256 shl 16) or (y * 2 shl 8) or 90)
        val f = Files.createTempFile("thumb", ".jpg").toFile()
        f.writeBytes(ByteArrayOutputStream().also { ImageIO.write(img, "jpg", it) }.toByteArray())
        f.deleteOnExit()
        return f
    }
}
