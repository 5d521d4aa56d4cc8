// detail::Gemm, the product behind every Dense layer: C = op(A)·op(B), C += op(A)·op(B) and
// C = bias·1ᵀ + op(A)·op(B), for every combination of transposes, against a long double
// reference; shapes that exercise the kernel's partial tiles, several depth blocks, several row
// blocks and the one-column path; on one and two threads, with bit-identical results run after
// run for a given thread count.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

using namespace chrysalis;
using detail::Op;

namespace {

template <class S>
Matrix<S> random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
    Rng rng(Seed{seed});
    Matrix<S> m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = S(rng.uniform(-1, 1));
    return m;
}

using LD = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;

template <class S>
LD op_of(const Matrix<S>& m, Op op) {
    LD x = m.template cast<long double>();
    return op == Op::none ? x : LD(x.transpose());
}

enum class Into { overwrite, accumulate, bias };

/// The operands of an m × n product of depth k: A and B stored as op_a and op_b ask (seeds 1 and
/// 2), and the C it starts from (seed 3).
template <class S>
struct Operands {
    Matrix<S> a, b, c0;
    Operands(Eigen::Index m, Eigen::Index n, Eigen::Index k, Op op_a, Op op_b)
        : a(op_a == Op::none ? random_matrix<S>(m, k, 1) : random_matrix<S>(k, m, 1)),
          b(op_b == Op::none ? random_matrix<S>(k, n, 2) : random_matrix<S>(n, k, 2)),
          c0(random_matrix<S>(m, n, 3)) {}
};

/// Runs one product and checks every element against the long double reference within the
/// classical bound for a sum of `depth` products computed in S, |ĉ − c| ≤ γ·Σ|a||b| with
/// γ = (depth + 2)·u (Higham, Accuracy and Stability of Numerical Algorithms, §3.1: γ_n =
/// nu/(1−nu); +2 covers the addition to the initial C or bias). Returns the result.
template <class S>
Matrix<S> check_product(Eigen::Index m, Eigen::Index n, Eigen::Index k, Op op_a, Op op_b, Into mode,
                        int threads) {
    ThreadsScope scope(threads);
    const auto [a, b, c0] = Operands<S>(m, n, k, op_a, op_b);
    const Vector<S> bias = random_matrix<S>(m, 1, 4);
    Matrix<S> c = c0;
    detail::Gemm<S> gemm;
    gemm.run(c, a, op_a, b, op_b, mode == Into::accumulate,
             mode == Into::bias ? bias.data() : nullptr);
    // The long double products dominate the run time (scalar arithmetic); every mode and thread
    // count of one shape multiplies the same operands, so they are computed once per shape.
    static std::tuple<Eigen::Index, Eigen::Index, Eigen::Index, Op, Op> last_key{
        -1, -1, -1, Op::none, Op::none};
    static LD product, product_magnitude;
    if (last_key != std::tuple{m, n, k, op_a, op_b}) {
        const LD A = op_of(a, op_a), B = op_of(b, op_b);
        product = A * B;
        product_magnitude = A.cwiseAbs() * B.cwiseAbs();
        last_key = {m, n, k, op_a, op_b};
    }
    LD ref = product;
    LD magnitude = product_magnitude;
    if (mode == Into::accumulate) {
        ref += c0.template cast<long double>();
        magnitude += c0.template cast<long double>().cwiseAbs();
    } else if (mode == Into::bias) {
        ref.colwise() += bias.template cast<long double>();
        magnitude.colwise() += bias.template cast<long double>().cwiseAbs();
    }
    const long double u = std::numeric_limits<S>::epsilon() / 2;
    const long double gamma = (k + 2) * u;
    long double worst = 0;
    for (Eigen::Index j = 0; j < n; ++j)
        for (Eigen::Index i = 0; i < m; ++i) {
            const long double err = std::fabs((long double)c(i, j) - ref(i, j));
            const long double bound = gamma * magnitude(i, j) + std::numeric_limits<S>::min();
            worst = std::max(worst, err / bound);
        }
    INFO("m " << m << " n " << n << " k " << k << " op_a " << int(op_a) << " op_b " << int(op_b)
              << " mode " << int(mode) << " threads " << threads);
    REQUIRE(worst <= 1.0L);
    return c;
}

// Shapes: partial register tiles in both directions, depth over one block (blocks of at most
// 512: 1100 is three of 368, 368, 364), rows over one block (depth 784 gives blocks of 288 rows
// of floats, 144 of doubles), wide C (split by columns), a single column (matrix-vector path), a
// single row, and the shapes of a teacher's layers at a small batch.
const std::vector<std::tuple<Eigen::Index, Eigen::Index, Eigen::Index>> shapes = {
    {1, 1, 1},    {5, 3, 7},   {49, 9, 17}, {97, 13, 1100}, {300, 9, 784},
    {10, 70, 33}, {33, 1, 45}, {1, 40, 20}, {120, 24, 784}, {10, 24, 120},
};

}  // namespace

TEMPLATE_TEST_CASE("Gemm matches a long double reference for every transpose and mode", "[gemm]",
                   float, double) {
    for (const auto& [m, n, k] : shapes)
        for (Op op_a : {Op::none, Op::transpose})
            for (Op op_b : {Op::none, Op::transpose})
                for (Into mode : {Into::overwrite, Into::accumulate, Into::bias})
                    for (int threads : {1, 2})
                        check_product<TestType>(m, n, k, op_a, op_b, mode, threads);
}

TEMPLATE_TEST_CASE("Gemm handles empty products", "[gemm]", float, double) {
    detail::Gemm<TestType> gemm;
    // Depth 0: C = 0, or C unchanged when accumulating, or the bias.
    const Matrix<TestType> a(4, 0), b(0, 3);
    Matrix<TestType> c = Matrix<TestType>::Constant(4, 3, 5);
    gemm.run(c, a, Op::none, b, Op::none);
    REQUIRE(c.isZero(0));
    c.setConstant(5);
    gemm.run(c, a, Op::none, b, Op::none, true);
    REQUIRE((c.array() == 5).all());
    const Vector<TestType> bias = Vector<TestType>::LinSpaced(4, 1, 4);
    gemm.run(c, a, Op::none, b, Op::none, false, bias.data());
    for (Eigen::Index j = 0; j < 3; ++j) REQUIRE(c.col(j) == bias);
    // No rows or no columns: nothing to do, nothing read.
    Matrix<TestType> none(0, 3);
    gemm.run(none, Matrix<TestType>(0, 2), Op::none, Matrix<TestType>(2, 3), Op::none);
    REQUIRE(none.size() == 0);
}

TEMPLATE_TEST_CASE("Gemm gives bit-identical results run after run for a thread count", "[gemm]",
                   float, double) {
    for (int threads : {1, 2}) {
        const auto first =
            check_product<TestType>(300, 64, 500, Op::transpose, Op::none, Into::bias, threads);
        const auto again =
            check_product<TestType>(300, 64, 500, Op::transpose, Op::none, Into::bias, threads);
        REQUIRE(first == again);
    }
}

TEMPLATE_TEST_CASE("packed_gemm reading op(A) packed whole beforehand gives the same C to the bit",
                   "[gemm]", float, double) {
    // pack_a_whole lays out the blocks packed_gemm would pack, in its order; a block out of
    // place, or a wrong block size, changes C. Shapes as above: partial panels, several depth
    // blocks (1100), several row blocks (300 × 784), one column, one row.
    using S = TestType;
    for (const auto& [m, n, k] : shapes)
        for (Op op_a : {Op::none, Op::transpose})
            for (Op op_b : {Op::none, Op::transpose})
                for (bool overwrite : {true, false}) {
                    const auto [a, b, c0] = Operands<S>(m, n, k, op_a, op_b);
                    std::vector<S> packed(std::size_t(detail::packed_a_size<S>(m, k)));
                    detail::pack_a_whole(packed.data(), a.data(), long(a.rows()),
                                         op_a == Op::transpose, long(m), long(k));
                    Matrix<S> c = c0, c_packed = c0;
                    detail::PackedGemmBuffers<S> buf;
                    detail::packed_gemm(long(m), long(n), long(k), a.data(), long(a.rows()),
                                        op_a == Op::transpose, b.data(), long(b.rows()),
                                        op_b == Op::transpose, c.data(), long(m), overwrite, buf);
                    // a is not read: a null pointer in its place shows it.
                    detail::packed_gemm(long(m), long(n), long(k), static_cast<const S*>(nullptr),
                                        0L, op_a == Op::transpose, b.data(), long(b.rows()),
                                        op_b == Op::transpose, c_packed.data(), long(m), overwrite,
                                        buf, false, packed.data());
                    INFO("m " << m << " n " << n << " k " << k << " op_a " << int(op_a) << " op_b "
                              << int(op_b) << " overwrite " << overwrite);
                    REQUIRE(c_packed == c);
                    REQUIRE(c != c0);
                }
}

TEMPLATE_TEST_CASE("packed_gemm reading its operands in place gives the same C to the bit",
                   "[gemm]", float, double) {
    // Feed::in_place reads whole panels of a non-transposed op(A) from its columns and whole
    // panels of op(B) from its rows (transposed) or columns (stored), packing only a last panel of
    // fewer than mr rows or nr columns; Feed::a_in_place does so for op(A) alone (what `automatic`
    // does for a transposed op(B) on Intel); Feed::pack packs them all. Each element of C must be
    // the same chain of FMAs either way. A and B sit in matrices with `pad` more rows than they use
    // (lda, ldb): with pad 7 a panel read at the wrong stride picks up other values and changes C;
    // with pad 0 each operand's last column ends its storage, so under AddressSanitizer (CI)
    // reading a partial panel whole, past the end of A or B, fails. The shapes above (n = 13 and
    // 9: a partial panel of B; 24 and 40: whole ones only), and the teacher's 1200 × 1200 (three
    // depth blocks, a partial last panel of A: 1200 = 25 × 48, 50 × 24) at a small batch.
    using S = TestType;
    auto all = shapes;
    all.emplace_back(1200, 16, 1200);
    all.emplace_back(170, 5, 784);
    // `pad` more rows, of other values, below a matrix's own.
    const auto padded = [](const Matrix<S>& x, Eigen::Index pad) {
        Matrix<S> p(x.rows() + pad, x.cols());
        p.topRows(x.rows()) = x;
        p.bottomRows(pad) = random_matrix<S>(pad, x.cols(), 14);
        return p;
    };
    for (const auto& [m, n, k] : all)
        for (Op op_a : {Op::none, Op::transpose})
            for (Op op_b : {Op::none, Op::transpose}) {
                // op(A) and op(B), the same for both paddings, and their long double product
                // (its run time dominates the test's), computed once.
                const Matrix<S> a0 =
                    op_a == Op::none ? random_matrix<S>(m, k, 11) : random_matrix<S>(k, m, 11);
                const Matrix<S> b0 =
                    op_b == Op::none ? random_matrix<S>(k, n, 12) : random_matrix<S>(n, k, 12);
                const LD A = op_of(a0, op_a), B = op_of(b0, op_b);
                const LD product = A * B, product_magnitude = A.cwiseAbs() * B.cwiseAbs();
                for (Eigen::Index pad : {0, 7}) {
                    const bool overwrite = pad == 0;  // both modes, and both paddings
                    const Matrix<S> a = padded(a0, pad), b = padded(b0, pad);
                    const Matrix<S> c0 = random_matrix<S>(m, n, 13);
                    Matrix<S> c_packed = c0, c_in_place = c0, c_a_in_place = c0;
                    detail::PackedGemmBuffers<S> buf;
                    // (Copies: clang 14 cannot capture structured bindings.)
                    const long rows = long(m), cols = long(n), depth = long(k);
                    const auto run = [&](Matrix<S>& c, detail::Feed feed) {
                        detail::packed_gemm(rows, cols, depth, a.data(), long(a.rows()),
                                            op_a == Op::transpose, b.data(), long(b.rows()),
                                            op_b == Op::transpose, c.data(), rows, overwrite, buf,
                                            false, static_cast<const S*>(nullptr), feed);
                    };
                    run(c_packed, detail::Feed::pack);
                    run(c_in_place, detail::Feed::in_place);
                    run(c_a_in_place, detail::Feed::a_in_place);
                    INFO("m " << m << " n " << n << " k " << k << " op_a " << int(op_a) << " op_b "
                              << int(op_b) << " pad " << pad);
                    REQUIRE(c_in_place == c_packed);
                    REQUIRE(c_a_in_place == c_packed);
                    REQUIRE(c_packed != c0);
                    // And the product itself, against a long double reference, within the bound
                    // of check_product: |ĉ − c| ≤ (k + 2)·u·(|A|·|B| + |C₀|).
                    const LD C0 = c0.template cast<long double>();
                    const LD ref = product + (overwrite ? LD(LD::Zero(m, n)) : C0);
                    const LD magnitude =
                        product_magnitude + (overwrite ? LD(LD::Zero(m, n)) : LD(C0.cwiseAbs()));
                    const long double gamma =
                        (long double)(k + 2) * std::numeric_limits<S>::epsilon() / 2;
                    const LD err = (c_in_place.template cast<long double>() - ref).cwiseAbs();
                    REQUIRE((err.array() <=
                             gamma * magnitude.array() + (long double)std::numeric_limits<S>::min())
                                .all());
                }
            }
}

TEST_CASE("the FMA datapath is measured in AVX-512 builds only, once", "[gemm]") {
    const int bits = detail::fma_datapath_bits();
    if (compiled_isa.find("avx512") != std::string_view::npos)
        REQUIRE((bits == 256 || bits == 512));
    else
        REQUIRE(bits == 0);
    REQUIRE(detail::fma_datapath_bits() == bits);  // cached: the same answer every call
    // The packed GEMM reads its operands in place only where the datapath is 512 bits wide.
    REQUIRE(detail::reads_in_place() == (bits == 512));
    // A transposed op(B) is read in place too, except on Intel (cpu_vendor).
    REQUIRE(detail::reads_transposed_b_in_place() ==
            (bits == 512 && detail::cpu_vendor() != detail::CpuVendor::intel));
}

TEST_CASE("cpu_vendor: the vendor the kernel reports in /proc/cpuinfo", "[gemm]") {
    // On x86 Linux, CPUID's vendor string is the kernel's `vendor_id`; elsewhere (or where the
    // file cannot be read) only the cached answer is checked.
    const detail::CpuVendor vendor = detail::cpu_vendor();
    REQUIRE(detail::cpu_vendor() == vendor);
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line, id;
    while (id.empty() && std::getline(cpuinfo, line))
        if (line.rfind("vendor_id", 0) == 0) id = line.substr(line.find(':') + 1);
    id.erase(0, id.find_first_not_of(" \t"));
#if defined(__x86_64__) || defined(__i386__)
    if (id.empty()) {
        WARN("no vendor_id in /proc/cpuinfo: only the cached answer was checked");
        return;
    }
    const detail::CpuVendor expected = id == "GenuineIntel"   ? detail::CpuVendor::intel
                                       : id == "AuthenticAMD" ? detail::CpuVendor::amd
                                                              : detail::CpuVendor::other;
    INFO("vendor_id " << id);
    REQUIRE(vendor == expected);
#else
    REQUIRE(vendor == detail::CpuVendor::other);
#endif
}

TEST_CASE("Gemm reuses its workspace for smaller products and grows it for larger ones", "[gemm]") {
    // Larger, then smaller (the last batch of an epoch), then larger again: all correct.
    for (Eigen::Index n : {64, 24, 96})
        check_product<float>(200, n, 150, Op::none, Op::none, Into::overwrite, 2);
}

TEMPLATE_TEST_CASE("Gemm computes a C of few rows through its transpose, to the same bits",
                   "[gemm]", float, double) {
    // With 2 ≤ rows < mr (the micro-kernel's tile) and at least mr columns, run() may compute
    // Cᵀ = op(B)ᵀ·op(A)ᵀ (transposes_few_rows), which pads the short side to nr columns instead
    // of a register of rows. Each element must still be packed_gemm's sum for C itself: the same
    // products in the same order (over several depth blocks: 1200 is three of 400 floats), added
    // to the same starting value (C, or the bias). A bias added after the sum, or a depth block
    // summed apart, changes the bits. run() is checked whichever way this CPU takes it, and
    // run_transposed itself on every CPU.
    using S = TestType;
    using G = detail::Gemm<S>;
    constexpr Eigen::Index mr = detail::PackedGemmShape<S>::mr;
    // The rule: only 2 ≤ rows < mr with at least mr columns; with op(B) as stored, only where the
    // operands are packed (read in place, op(B)ᵀ would need packing, transposed).
    for (Op op_b : {Op::none, Op::transpose}) {
        INFO("op_b " << int(op_b));
        REQUIRE_FALSE(G::transposes_few_rows(1, 128, op_b));
        REQUIRE_FALSE(G::transposes_few_rows(mr, 128, op_b));
        REQUIRE_FALSE(G::transposes_few_rows(10, mr - 1, op_b));
        REQUIRE(G::transposes_few_rows(2, mr, op_b) ==
                (op_b == Op::transpose || !detail::reads_in_place()));
        REQUIRE(G::transposes_few_rows(10, 128, op_b) ==
                (op_b == Op::transpose || !detail::reads_in_place()));
    }
    const std::vector<std::tuple<Eigen::Index, Eigen::Index, Eigen::Index>> few_rows = {
        {2, mr, 5}, {10, 128, 1200}, {mr - 1, 3 * mr + 5, 600}};
    for (const auto& [m, n, k] : few_rows)
        for (Op op_a : {Op::none, Op::transpose})
            for (Op op_b : {Op::none, Op::transpose})
                for (Into mode : {Into::overwrite, Into::accumulate, Into::bias})
                    for (int threads : {1, 2}) {
                        const Matrix<S> c = check_product<S>(m, n, k, op_a, op_b, mode, threads);
                        const auto [a, b, c0] = Operands<S>(m, n, k, op_a, op_b);
                        Matrix<S> expected = c0;
                        if (mode == Into::bias)
                            expected.colwise() = random_matrix<S>(m, 1, 4).col(0);
                        detail::PackedGemmBuffers<S> buf;
                        detail::packed_gemm(long(m), long(n), long(k), a.data(), long(a.rows()),
                                            op_a == Op::transpose, b.data(), long(b.rows()),
                                            op_b == Op::transpose, expected.data(), long(m),
                                            mode == Into::overwrite, buf);
                        INFO("m " << m << " n " << n << " k " << k << " op_a " << int(op_a)
                                  << " op_b " << int(op_b) << " mode " << int(mode) << " threads "
                                  << threads);
                        REQUIRE(c == expected);
                        // The transpose itself, whether or not run() took it here.
                        ThreadsScope scope(threads);
                        const Vector<S> bias = random_matrix<S>(m, 1, 4);
                        Matrix<S> through = c0;
                        G gemm;
                        gemm.run_transposed(through, a, op_a, b, op_b, mode == Into::accumulate,
                                            mode == Into::bias ? bias.data() : nullptr);
                        REQUIRE(through == expected);
                    }
}

TEMPLATE_TEST_CASE("Gemm computes an input gradient through its transpose, to the same bits",
                   "[gemm]", float, double) {
    // Where operands are read in place, run() computes an input gradient C = Aᵀ·B (Wᵀ·dy) of a
    // large A and a batch of fewer than 4·mr columns as Cᵀ = Bᵀ·A (transposes_input_gradient),
    // with A's columns read in place and the kernel fetching each next panel of A ahead. Each
    // element must still be packed_gemm's sum for C itself, in the same order (over several
    // depth blocks: 720 is two of 360, 1200 three of 400), added to the same starting value; and
    // the product within check_product's bound of a long double reference. The shapes have partial
    // panels on both sides (mr + 3 and 2·mr + 4 columns: a partial panel of nr = 8; 730 rows) and
    // a batch of 5, below a register of rows; each is taken on one thread and on two.
    using S = TestType;
    using G = detail::Gemm<S>;
    constexpr Eigen::Index mr = detail::PackedGemmShape<S>::mr;
    const bool in_place = detail::reads_in_place();
    const auto T = Op::transpose, N = Op::none;
    // The teacher's at batch 128: in floats only (4·mr is 192 floats, 96 doubles).
    REQUIRE(G::transposes_input_gradient(1200, 128, 1200, T, N) == (in_place && 128 < 4 * mr));
    REQUIRE(G::transposes_input_gradient(1200, 2, 1200, T, N) == in_place);
    REQUIRE(G::transposes_input_gradient(1200, 4 * mr - 1, 1200, T, N) == in_place);
    REQUIRE_FALSE(G::transposes_input_gradient(1200, 4 * mr, 1200, T, N));
    // A of 2¹⁹ values, at its edge; at least 4·mr rows and 4·mr deep.
    REQUIRE(G::transposes_input_gradient(1024, mr, 512, T, N) == in_place);
    REQUIRE_FALSE(G::transposes_input_gradient(1024, mr, 511, T, N));
    REQUIRE_FALSE(G::transposes_input_gradient(4 * mr - 1, mr, 4096, T, N));
    REQUIRE_FALSE(G::transposes_input_gradient(4096, mr, 4 * mr - 1, T, N));
    REQUIRE_FALSE(G::transposes_input_gradient(1200, 128, 10, T, N));  // a classifier's
    REQUIRE_FALSE(G::transposes_input_gradient(1200, mr, 1200, N, N));
    REQUIRE_FALSE(G::transposes_input_gradient(1200, mr, 1200, T, T));
    const std::vector<std::tuple<Eigen::Index, Eigen::Index, Eigen::Index>> tall = {
        {730, mr + 3, 720}, {1024, 2 * mr + 4, 512}, {1024, 5, 1200}};
    for (const auto& [m, n, k] : tall) {
        REQUIRE(G::transposes_input_gradient(m, n, k, T, N) == in_place);
        for (Into mode : {Into::overwrite, Into::accumulate, Into::bias})
            for (int threads : {1, 2}) {
                const Matrix<S> c = check_product<S>(m, n, k, T, N, mode, threads);
                const auto [a, b, c0] = Operands<S>(m, n, k, T, N);
                Matrix<S> expected = c0;
                if (mode == Into::bias) expected.colwise() = random_matrix<S>(m, 1, 4).col(0);
                detail::PackedGemmBuffers<S> buf;
                detail::packed_gemm(long(m), long(n), long(k), a.data(), long(a.rows()), true,
                                    b.data(), long(b.rows()), false, expected.data(), long(m),
                                    mode == Into::overwrite, buf);
                INFO("m " << m << " n " << n << " k " << k << " mode " << int(mode) << " threads "
                          << threads);
                REQUIRE(c == expected);
            }
    }
}

TEMPLATE_TEST_CASE("copy_transposed copies every value to its transposed place", "[gemm]", float,
                   double) {
    // Register blocks and the edges around them (8 × 8 floats, 4 × 4 doubles where there is AVX):
    // sizes below, at and past a block, with strides larger than the rows, against Eigen's
    // transpose; the values outside the destination's rows stay as they were.
    using S = TestType;
    for (Eigen::Index rows : {1, 3, 4, 8, 13, 16, 29})
        for (Eigen::Index cols : {1, 4, 7, 8, 17, 24}) {
            const Matrix<S> src = random_matrix<S>(rows + 5, cols, 7);
            Matrix<S> dst = Matrix<S>::Constant(cols + 3, rows, S(-9));
            detail::copy_transposed(dst.data(), long(dst.rows()), src.data(), long(src.rows()),
                                    long(rows), long(cols));
            INFO("rows " << rows << " cols " << cols);
            REQUIRE(dst.topRows(cols) == src.topRows(rows).transpose());
            REQUIRE((dst.bottomRows(3).array() == S(-9)).all());
        }
}

TEMPLATE_TEST_CASE("A panel of one or two registers of rows gives the same bits as a full tile",
                   "[gemm]", float, double) {
    // packed_gemm computes a panel of at most 2·lanes rows with a micro-kernel of fewer
    // registers of rows (micro_kernel_rows). Each element must be the same chain of fused
    // multiply-adds: the first m rows of a product of 2·mr rows (two full tiles), computed alone,
    // are the same to the bit, over one depth block and several (1100: three of about 368).
    using S = TestType;
    constexpr Eigen::Index L = detail::PackedGemmShape<S>::lanes;
    constexpr Eigen::Index mr = detail::PackedGemmShape<S>::mr;
    for (const Eigen::Index k : {Eigen::Index(37), Eigen::Index(1100)})
        for (Op op_a : {Op::none, Op::transpose})
            for (bool overwrite : {true, false}) {
                const auto [a, b, c0] = Operands<S>(2 * mr, 13, k, op_a, Op::none);
                Matrix<S> whole = c0;
                detail::PackedGemmBuffers<S> buf;
                detail::packed_gemm(long(2 * mr), 13L, long(k), a.data(), long(a.rows()),
                                    op_a == Op::transpose, b.data(), long(b.rows()), false,
                                    whole.data(), long(2 * mr), overwrite, buf);
                for (const Eigen::Index m : {Eigen::Index(1), L - 1, L, L + 1, 2 * L, 2 * L + 1,
                                             mr + 1, mr + L, mr + 2 * L}) {
                    // The first m rows of op(A): for a transposed op(A), the first m columns of A.
                    const Matrix<S> a_m =
                        op_a == Op::none ? Matrix<S>(a.topRows(m)) : Matrix<S>(a.leftCols(m));
                    Matrix<S> part = c0.topRows(m);
                    detail::packed_gemm(long(m), 13L, long(k), a_m.data(), long(a_m.rows()),
                                        op_a == Op::transpose, b.data(), long(b.rows()), false,
                                        part.data(), long(m), overwrite, buf);
                    INFO("m " << m << " k " << k << " op_a " << int(op_a) << " overwrite "
                              << overwrite);
                    REQUIRE(part == whole.topRows(m));
                }
            }
}

TEMPLATE_TEST_CASE("A row split cuts C in even chunks of whole registers of rows", "[gemm]", float,
                   double) {
    // row_chunks: the chunks tile [0, rows) in order, none empty; every chunk but the last holds
    // a whole number of registers of rows (lanes), and chunks differ by at most one register, the
    // longer ones last (the last may end short, with the rows). `longest` bounds every chunk, as
    // the workspaces are sized by it.
    using G = detail::Gemm<TestType>;
    constexpr long L = detail::PackedGemmShape<TestType>::lanes;
    constexpr long mr = detail::PackedGemmShape<TestType>::mr;
    for (long rows : {1L, 47L, 48L, 200L, 784L, 800L, 1000L, 1200L, 4097L})
        for (int parts : {1, 2, 3, 4}) {
            const auto cut = G::row_chunks(rows, parts);
            INFO("rows " << rows << " parts " << parts);
            REQUIRE(cut.count >= 1);
            REQUIRE(cut.count <= std::max(1L, std::min<long>(G::chunks_for(parts), rows / mr)));
            REQUIRE(cut.begin(0) == 0);
            REQUIRE(cut.begin(cut.count) == rows);
            long shortest = rows, longest = 0;
            for (long c = 0; c < cut.count; ++c) {
                const long len = cut.begin(c + 1) - cut.begin(c);
                REQUIRE(len > 0);
                REQUIRE(len <= cut.longest);
                if (c + 1 < cut.count) {
                    REQUIRE(len % L == 0);
                    shortest = std::min(shortest, len);
                    longest = std::max(longest, len);
                }
                // Longer chunks last: each chunk before the last two is no longer than the next.
                if (c + 2 < cut.count) REQUIRE(len <= cut.begin(c + 2) - cut.begin(c + 1));
            }
            if (cut.count > 2) REQUIRE(longest - shortest <= L);
        }
    // The student's 800 rows on two threads: 50 registers of 16 floats in 8 chunks, 96 rows in
    // the first six and 112 in the last two.
    if constexpr (L == 16) {
        const auto cut = G::row_chunks(800, 2);
        REQUIRE(cut.count == 8);
        REQUIRE(cut.begin(6) == 6 * 96);
        REQUIRE(cut.begin(7) == 6 * 96 + 112);
        REQUIRE(cut.longest == 112);
    }
}

TEMPLATE_TEST_CASE("a C of fewer than 96 rows is not cut by columns", "[gemm]", float, double) {
    // A column split makes a helper fetch its columns of op(B) from the other core for `rows`
    // multiply-adds each, which does not pay below 96 rows (Gemm::split_for): such a C with many
    // columns stays on one thread, unless it has enough rows to be cut by rows (4·mr: 48 rows of
    // floats without AVX). A C of 100 rows is split, by columns where 100 rows are fewer than
    // 4·mr (floats on AVX-512), and a teacher's 1200 rows by rows.
    using G = detail::Gemm<TestType>;
    ThreadsScope scope(2);
    const int two = has_openmp ? 2 : 1;
    for (Eigen::Index rows : {16, 47, 95}) {
        const auto split = G::split_for(rows, 1024, 784);
        INFO("rows " << rows << " by rows " << split.rows << " parts " << split.parts);
        CHECK((split.rows || split.parts == 1));
    }
    constexpr Eigen::Index mr = detail::PackedGemmShape<TestType>::mr;
    CHECK(G::split_for(100, 256, 784).parts == two);
    CHECK(G::split_for(100, 256, 784).rows == (100 >= 4 * mr));
    CHECK(G::split_for(1200, 128, 1200).parts == two);
    CHECK(G::split_for(1200, 128, 1200).rows);
}

TEMPLATE_TEST_CASE("Gemm gives the same bits on one thread and on two", "[gemm]", float, double) {
    // Each element of C is the same sum however a split cuts C (the depth blocks depend on the
    // depth alone), so one thread and two agree to the bit: rows cut in registers (800 rows),
    // columns cut (few rows, a wide C: two threads pack op(A) whole where one thread reads its
    // whole panels in place; 100 rows, two whole panels and a partial one), the matrix-vector
    // path (one column).
    using S = TestType;
    for (const auto& [m, n, k] : std::vector<std::tuple<Eigen::Index, Eigen::Index, Eigen::Index>>{
             {800, 128, 800}, {100, 1200, 300}, {100, 256, 784}, {3000, 1, 800}})
        for (Op op_a : {Op::none, Op::transpose}) {
            const auto [a, b, c0] = Operands<S>(m, n, k, op_a, Op::none);
            Matrix<S> one(m, n), two(m, n);
            detail::Gemm<S> gemm;
            {
                ThreadsScope scope(1);
                gemm.run(one, a, op_a, b, Op::none);
            }
            {
                ThreadsScope scope(2);
                gemm.run(two, a, op_a, b, Op::none);
            }
            INFO("m " << m << " n " << n << " k " << k << " op_a " << int(op_a));
            REQUIRE(two == one);
        }
}
