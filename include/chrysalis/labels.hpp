#pragma once
// chrysalis/labels.hpp — class labels as any contiguous range of integers.
//
// Losses, metrics and the gradient checker take labels as a LabelRange: an std::vector<int>, an
// std::span<const int>, an std::array<int, N>, an std::vector<long> or std::vector<std::uint8_t>,
// an Eigen::VectorXi, a block of one. Inside, everything works on std::span<const int>:
// int_labels() views int labels where they are and converts any other integer type once,
// checking that each value fits in an int.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <concepts>
#include <cstddef>
#include <limits>
#include <ranges>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

/// An integer type a label may have: any integral type but bool.
template <class T>
concept LabelInteger = std::integral<T> && !std::same_as<std::remove_cv_t<T>, bool>;

/// Whether R derives from Eigen::DenseBase<D> for some D: an expression type such as
/// VectorBlock (what segment, head and tail return) derives from DenseBase of its base class
/// (Block), not of itself.
template <class D>
std::true_type derives_from_dense_base(const Eigen::DenseBase<D>*);
std::false_type derives_from_dense_base(const void*);

/// Any Eigen dense expression (derived from DenseBase of itself or of a base class).
template <class R>
concept EigenDense = decltype(derives_from_dense_base(std::declval<const R*>()))::value;

/// An Eigen dense vector (column or row, fixed or dynamic, plain or expression) of integers.
template <class R>
concept EigenLabelVector =
    EigenDense<R> && bool(R::IsVectorAtCompileTime) && LabelInteger<typename R::Scalar>;

/// A contiguous, sized standard range of integers (vector, array, span, C array).
template <class R>
concept StdLabelRange = std::ranges::contiguous_range<const R&> &&
    std::ranges::sized_range<const R&> && LabelInteger<std::ranges::range_value_t<const R&>>;

}  // namespace detail

/// LabelRange<R> — one class label per sample.
///
/// Represents: a sequence of B integer labels, label b belonging to sample (column) b.
/// Requires: R (cv-ref removed) is either
///   - a contiguous, sized range of an integer type other than bool: std::vector<int>,
///     std::span<const int>, std::array<long, N>, int[N], std::vector<std::uint8_t>, …; or
///   - an Eigen dense vector (column or row vector, including blocks, maps and expressions)
///     of an integer scalar: Eigen::VectorXi, Eigen::Map<const Eigen::VectorXi>, ….
/// Ensures: int_labels(r, what) gives the labels as std::span<const int>.
template <class R>
concept LabelRange = detail::StdLabelRange<std::remove_cvref_t<R>> ||
    detail::EigenLabelVector<std::remove_cvref_t<R>>;

/// Labels as std::span<const int>, either viewing the caller's int labels or owning converted
/// copies of labels of another integer type. Returned by int_labels().
///
/// Requires: when it views (the labels were int and contiguous), the labels it was made from
///   outlive it and are not resized meanwhile.
/// Ensures: span() has the labels in order; copying or moving it keeps the span valid (it points
///   at the source's labels or at its own copy).
class IntLabels {
  public:
    /// Views `labels` (no copy).
    explicit IntLabels(std::span<const int> labels) noexcept : view_(labels) {}
    /// Owns `labels`.
    explicit IntLabels(std::vector<int> labels) noexcept : owned_(std::move(labels)), owns_(true) {}

    /// The labels, in order.
    [[nodiscard]] std::span<const int> span() const noexcept {
        return owns_ ? std::span<const int>(owned_) : view_;
    }
    /// The number of labels.
    [[nodiscard]] std::size_t size() const noexcept { return span().size(); }
    /// Whether the labels had to be converted (copied) because they were not int.
    [[nodiscard]] bool converted() const noexcept { return owns_; }

  private:
    std::span<const int> view_;
    std::vector<int> owned_;
    bool owns_ = false;
};

namespace detail {
/// Converts one label to int, or throws ValueError naming `what`, the sample and the value (called
/// a `noun`: "label", or "target" for an attack's target classes).
/// (Not std::in_range, which rejects the character types.)
template <class T>
int label_to_int(T value, std::size_t sample, std::string_view what,
                 std::string_view noun = "label") {
    if constexpr (std::is_signed_v<T>) {
        const auto v = static_cast<long long>(value);
        if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
            throw ValueError(concat(what, ": ", noun, " ", v, " of sample ", sample,
                                    " does not fit in an int (", noun, "s are class indices)"));
        }
    } else {
        const auto v = static_cast<unsigned long long>(value);
        if (v > static_cast<unsigned long long>(std::numeric_limits<int>::max())) {
            throw ValueError(concat(what, ": ", noun, " ", v, " of sample ", sample,
                                    " does not fit in an int (", noun, "s are class indices)"));
        }
    }
    return static_cast<int>(value);
}
}  // namespace detail

/// The labels `labels` as std::span<const int> (held by the returned IntLabels).
///
/// Requires: LabelRange<R>; `what` names the calling function for error messages.
/// Ensures: int labels stored contiguously (std::vector<int>, std::span<const int>,
///   std::array<int, N>, Eigen::VectorXi, a contiguous block of one, …) are viewed where they are,
///   without copying or allocating; labels of any other integer type, or an Eigen expression or
///   strided view, are converted into int storage that the result owns (one allocation).
/// Throws: ValueError naming `what`, the sample and the value when a label does not fit in an
///   int, calling it a `noun` ("label" unless the caller says, e.g. "target"). (Whether a label is
///   a valid class — in [0, classes) — is check_labels' business.)
template <LabelRange R>
[[nodiscard]] IntLabels int_labels(const R& labels, std::string_view what,
                                   std::string_view noun = "label") {
    using Range = std::remove_cvref_t<R>;
    if constexpr (detail::StdLabelRange<Range>) {
        using T = std::remove_cv_t<std::ranges::range_value_t<const Range&>>;
        if constexpr (std::same_as<T, int>) {
            return IntLabels(std::span<const int>(std::ranges::data(labels),
                                                  std::size_t(std::ranges::size(labels))));
        } else {
            std::vector<int> out;
            out.reserve(std::size_t(std::ranges::size(labels)));
            std::size_t b = 0;
            for (const auto& v : labels) out.push_back(detail::label_to_int(v, b++, what, noun));
            return IntLabels(std::move(out));
        }
    } else {
        using T = std::remove_cv_t<typename Range::Scalar>;
        if constexpr (std::same_as<T, int> && (int(Range::Flags) & Eigen::DirectAccessBit) != 0) {
            if (labels.size() <= 1 || labels.innerStride() == 1) {
                return IntLabels(
                    std::span<const int>(labels.derived().data(), std::size_t(labels.size())));
            }
        }
        std::vector<int> out(std::size_t(labels.size()));
        for (Eigen::Index b = 0; b < labels.size(); ++b)
            out[std::size_t(b)] = detail::label_to_int(labels(b), std::size_t(b), what, noun);
        return IntLabels(std::move(out));
    }
}

/// Checks labels against a classes × batch logits matrix.
///
/// Requires: `what` names the calling function.
/// Ensures: returns normally iff labels.size() == batch and every label is in [0, classes).
/// Throws: ShapeError ("<what>: 3 labels for a batch of 4 samples (one label per logits column)")
///   for a count other than `batch`; ValueError ("<what>: label 7 of sample 2 is outside
///   [0, 5)") for the first label outside [0, classes).
inline void check_labels(std::span<const int> labels, Eigen::Index classes, Eigen::Index batch,
                         std::string_view what) {
    if (Eigen::Index(labels.size()) != batch) {
        throw ShapeError(detail::concat(what, ": ", labels.size(), " labels for a batch of ", batch,
                                        " samples (one label per logits column)"));
    }
    for (std::size_t b = 0; b < labels.size(); ++b) {
        if (labels[b] < 0 || labels[b] >= classes) {
            throw ValueError(detail::concat(what, ": label ", labels[b], " of sample ", b,
                                            " is outside [0, ", classes, ")"));
        }
    }
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
