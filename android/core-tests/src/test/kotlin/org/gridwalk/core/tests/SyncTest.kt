// Sign-in, sync, photo upload and a second device, against the real sync server that
// scripts/test-bindings.sh starts on loopback (GRIDWALK_SERVER_URL).
package org.gridwalk.core.tests

import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.nio.file.Files
import java.util.concurrent.CopyOnWriteArrayList
import javax.imageio.ImageIO
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.gridwalk.core.*
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

// Demo credentials of `gridwalk-server serve --demo` (sync-server/src/README.md).
const val DEMO_USER = "wangfang"
const val DEMO_PASSWORD = "demo-pass"

class Progress : SyncProgressListener {
    val reports = CopyOnWriteArrayList<SyncProgress>()
    override fun onProgress(progress: SyncProgress) {
        reports.add(progress)
    }
}

class SyncTest {
    private lateinit var dir: File
    private lateinit var serverUrl: String

    @BeforeEach
    fun setUp() {
        serverUrl = assertNotNull(
            System.getenv("GRIDWALK_SERVER_URL"),
            "GRIDWALK_SERVER_URL is not set: run through scripts/test-bindings.sh",
        )
        dir = Files.createTempDirectory("gridwalk-kt-sync").toFile()
    }

    @AfterEach
    fun tearDown() {
        dir.deleteRecursively()
    }

    private fun jpeg(): ByteArray {
        val img = BufferedImage(48, 36, BufferedImage.TYPE_INT_RGB)
        for (x in 0 until 48) for (y in 0 until 36) img.setRGB(x, y, (y * 7 shl 16) or (x * 5))
        return ByteArrayOutputStream().also { ImageIO.write(img, "jpg", it) }.toByteArray()
    }

    @Test
    fun `login, sync with progress and cancel, upload photos, and a second device pulls`() {
        val phone = GridwalkStore.open(File(dir, "phone.db").path)
        assertEquals("not_signed_in", assertFailsWith<GridwalkException.Auth> { phone.sync() }.code)
        val wrong = assertFailsWith<GridwalkException.Auth> { phone.login(serverUrl, DEMO_USER, "wrong-password") }
        assertEquals("bad_credentials", wrong.code)

        val session = phone.login(serverUrl, DEMO_USER, DEMO_PASSWORD, "junit")
        assertEquals(DEMO_USER, session.username)
        assertTrue(GRID in session.grids)
        assertTrue(phone.myGrids().any { it.code == GRID })

        val h = phone.addHousehold(
            HouseholdInput(
                gridCode = GRID,
                address = Address(community = "幸福社区", building = "9栋", unit = "1单元", room = "kotlin"),
                housingType = HousingType.RENTED, careTier = CareTier.ATTENTION,
            )
        )
        phone.addResident(
            ResidentInput(
                householdId = h.id, name = "赵大海", relation = Relation.HEAD, residency = Residency.FLOATING,
                gender = Gender.MALE, birthDate = "1975-06-01",
            )
        )
        val case = phone.draftCase(
            CaseInput(typeCode = "0203", urgency = Urgency.NORMAL, gridCode = GRID, description = "飞线充电", address = "9栋楼下")
        )
        phone.addPhoto(PhotoOwner.Case(case.id), jpeg())
        phone.submitCase(case.id)

        // Cancelled before it starts: nothing is lost, the next sync sends everything.
        val cancel = CancelHandle()
        cancel.cancel()
        assertFailsWith<GridwalkException.Cancelled> { phone.sync(cancel = cancel) }
        assertEquals(SyncStatus.LOCAL_ONLY, phone.getHousehold(h.id).syncStatus)

        val progress = Progress()
        val report = phone.sync(progress, CancelHandle())
        assertTrue(report.pushed > 0u, "pushed ${report.pushed}")
        assertEquals(0u, report.rejected)
        assertEquals(SyncPhase.DONE, progress.reports.last().phase)
        assertTrue(progress.reports.any { it.phase == SyncPhase.PUSH })
        assertEquals(SyncStatus.SYNCED, phone.getHousehold(h.id).syncStatus)
        assertEquals(emptyList(), phone.attention())
        assertEquals(emptyList(), phone.conflicts())

        val uploads = Progress()
        val up = phone.uploadPhotos(uploads)
        assertEquals(1u, up.uploaded + up.alreadyOnServer)
        assertEquals(0u, up.failed)
        assertEquals(SyncPhase.UPLOAD, uploads.reports.last().phase)
        assertEquals(PhotoUploadState.DONE, phone.getCase(case.id).photos.single().uploadState)

        // A second device of the same worker receives the household.
        val tablet = GridwalkStore.open(File(dir, "tablet.db").path)
        tablet.login(serverUrl, DEMO_USER, DEMO_PASSWORD)
        assertTrue(tablet.sync().pulled > 0u)
        assertEquals("kotlin", tablet.getHousehold(h.id).address.room)
        assertEquals(listOf("赵大海"), tablet.residentsOf(h.id).map { it.name })

        phone.logout()
        assertNull(phone.session())
        tablet.closeStore()
        phone.closeStore()
    }
}
