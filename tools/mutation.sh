#!/usr/bin/env bash
# Mutation testing of the numerical core: how many small code changes ("mutants":
# a flipped operator, a changed constant, a dropped argument) do the tests catch?
#
# What it runs
#   mutmut (configured in pyproject.toml, [tool.mutmut]) over the functions listed
#   in TARGETS below. mutmut copies the package and tests into mutants/ (ignored by
#   git), and for every mutant of a listed function runs only the tests that cover
#   that function (pytest -x; the selection is pytest_add_cli_args_test_selection).
#   Then it prints, per function, killed / survived / other / total and the overall
#   score, and the names of the surviving mutants.
#
# Usage
#   tools/mutation.sh                 # every target (about 1000 mutants: hours on 2 cores)
#   tools/mutation.sh e_step _moment_uniform   # only these targets
#   MUTMUT_CHILDREN=4 tools/mutation.sh        # parallel workers (default 1)
#   MUTMUT=/path/to/mutmut tools/mutation.sh   # mutmut executable (default: on PATH,
#                                              # else /tmp/venv/bin/mutmut)
#   REPORT_ONLY=1 tools/mutation.sh            # print the table from the last run
#   FULL=1 tools/mutation.sh                   # retest every mutant, killed ones too
#
# By default a run resumes: it tests only the targets' mutants that are not yet
# killed (never tested, survived, timed out, interrupted), so tests added to kill
# survivors are checked without retesting the ~1000 killed ones. After a change to
# a mutated function, use FULL=1 (mutmut regenerates that function's mutants).
#
# How to read the result
#   killed    : some test failed with the mutant in place (good).
#   survived  : every covering test passed: either a test is missing, or the mutant
#               is equivalent (it cannot change any observable result). Inspect one
#               with `mutmut show <name>`; tests/mutation_notes.py lists the survivors
#               judged equivalent and why (see MUTATION_EQUIVALENT there), and those
#               that only tests/distributed/test_distributed_em.py kills
#               (MUTATION_DISTRIBUTED_ONLY: it is left out of the selection; check
#               one with `MUTANT_UNDER_TEST=NAME python -m pytest
#               tests/distributed/test_distributed_em.py` run inside mutants/).
#   other     : timeout, "no tests" (no selected test reaches the function),
#               suspicious or not checked (e.g. an interrupted run): rerun them.
#   score     : killed / (killed + survived + other).
#   Verdicts are kept in mutants/ (`rm -rf mutants` starts from scratch).
#
# Adding targets
#   A target is MODULE:FUNCTION or MODULE:Class.method, MODULE the dotted module
#   name. Add the module's file to only_mutate in pyproject.toml's [tool.mutmut]
#   (and the test files that exercise it to pytest_add_cli_args_test_selection),
#   then append the target to TARGETS.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(
    # E-step
    sk_deepgum._gum_math:_mahalanobis
    sk_deepgum._gum_math:estimate_log_inlier_prob
    sk_deepgum._gum_math:e_step
    sk_deepgum._gum_math:estimate_inlier_logit
    sk_deepgum._gum_math:row_log_likelihood
    sk_deepgum._gum_math:row_log_inlier_proba
    # M-step and the uniform's box
    sk_deepgum._gum_math:_moment_uniform
    sk_deepgum._gum_math:_sum_by_column
    sk_deepgum._gum_math:scatter_weights
    sk_deepgum._gum_math:full_scatters
    sk_deepgum._gum_math:sum_chunk
    sk_deepgum._gum_math:m_step_update
    sk_deepgum._gum_math:GaussianMoments.centred_second
    sk_deepgum._gum_math:GaussianMoments.scatters
    # Per covariance type
    sk_deepgum._covariance:FullCovariance.n_parameters
    sk_deepgum._covariance:FullCovariance.initial
    sk_deepgum._covariance:FullCovariance.mahalanobis
    sk_deepgum._covariance:FullCovariance.estimate
    sk_deepgum._covariance:FullCovariance.column_variances
    sk_deepgum._covariance:FullCovariance.loss_precision
    sk_deepgum._covariance:FullCovariance.in_units
    sk_deepgum._covariance:FullCovariance.group_matrix
    sk_deepgum._covariance:FullCovariance.precisions
    sk_deepgum._covariance:FullCovariance.to_public
    sk_deepgum._covariance:FullCovariance.from_public
    sk_deepgum._covariance:_PerColumnVariances.mahalanobis
    sk_deepgum._covariance:_PerColumnVariances.loss_precision
    sk_deepgum._covariance:_PerColumnVariances.precisions
    sk_deepgum._covariance:DiagCovariance.estimate
    sk_deepgum._covariance:DiagCovariance.in_units
    sk_deepgum._covariance:DiagCovariance.group_matrix
    sk_deepgum._covariance:DiagCovariance.to_public
    sk_deepgum._covariance:DiagCovariance.from_public
    sk_deepgum._covariance:SphericalCovariance.initial
    sk_deepgum._covariance:SphericalCovariance.estimate
    sk_deepgum._covariance:SphericalCovariance.column_variances
    sk_deepgum._covariance:SphericalCovariance.in_units
    sk_deepgum._covariance:SphericalCovariance.group_matrix
    sk_deepgum._covariance:SphericalCovariance.to_public
    sk_deepgum._covariance:SphericalCovariance.from_public
    # Between torch parameters and the public attributes, and units
    sk_deepgum.mixture:fitted_attributes
    sk_deepgum.mixture:fit_result_attributes
    sk_deepgum.mixture:params_from_attributes
    sk_deepgum.mixture:params_in_units
    sk_deepgum.mixture:fitted_mixture
    sk_deepgum.mixture:GaussianUniformMixture.sample
    # Data constants, starting point, EM loop
    sk_deepgum._em:prepare_data
    sk_deepgum._em:initialize_params
    sk_deepgum._em:uniform_from_bounds
    sk_deepgum._em:fit_gum
    # Model selection
    sk_deepgum.mixture:GaussianUniformMixture._n_parameters
    sk_deepgum.mixture:GaussianUniformMixture.bic
    sk_deepgum.mixture:GaussianUniformMixture.aic
    # Target scaling and the robust losses' weighted batch scale
    sk_deepgum._target_scaling:weighted_quantiles
    sk_deepgum._target_scaling:robust_target_scale
    sk_deepgum.losses:weighted_median
    sk_deepgum.losses:batch_mad_scale
    sk_deepgum.losses:HuberLoss.forward
    sk_deepgum.losses:TukeyLoss.forward
    # Loss weights and precision
    sk_deepgum._training:WeightedLoss.forward
    sk_deepgum._training:WeightedLoss.set_weights
    sk_deepgum.regressor:loss_precision
    # Training budget: the step floor and its batches
    sk_deepgum._data:ShuffledBatches.__iter__
    sk_deepgum._data:ShuffledBatches._epoch_order
    sk_deepgum._data:ShuffledBatches._whole_set_order
    sk_deepgum._data:ShuffledBatches._load_from_dataset
    sk_deepgum._training:SkorchNet.get_iterator
    # Early stopping
    sk_deepgum._stopping:StoppingMixin._early_stopping_step
    sk_deepgum._stopping:StoppingMixin._restore_best
    # Convergence stop (tol)
    sk_deepgum._stopping:StoppingMixin._converged
    sk_deepgum._stopping:StoppingMixin._end_weight_average
    # The lean per-batch path and the network step's hooks
    sk_deepgum._training:SkorchNet._set_training
    sk_deepgum._training:SkorchNet._listeners
    sk_deepgum._training:SkorchNet.run_single_epoch
    sk_deepgum._training:SkorchNet.train_step
    sk_deepgum._training:SkorchNet._train_epoch_unobserved
    sk_deepgum._training:SkorchNet._unobserved_step
    sk_deepgum.losses:QuadraticLoss.forward
    sk_deepgum._training:WeightedLoss.take_rows
    sk_deepgum._training:FitState.set_loss_precision
    sk_deepgum._training:FitState.element_criterion
    sk_deepgum.losses:QuadraticLoss.set_precision
    # Continuing a fit: warm_start and partial_fit
    sk_deepgum._continuing:check_continuation
    sk_deepgum._continuing:carry_over
    sk_deepgum._continuing:chunk_state
    sk_deepgum._data:fit_tensors
    sk_deepgum._continuing:continued_counters
    sk_deepgum._base:NetRegressorBase.partial_fit
    sk_deepgum._base:NetRegressorBase._assign_fit
    sk_deepgum._base:NetRegressorBase._end_training
    sk_deepgum._base:NetRegressorBase._train_epochs
    sk_deepgum.regressor:DeepGUMRegressor._fitted_params
    sk_deepgum.regressor:DeepGUMRegressor._run_partial
    # Phase times (fit_seconds_) and the generators' Bayes posterior
    sk_deepgum._timing:PhaseTimer.phase
    sk_deepgum.datasets._common:outlier_posterior
)

if [[ $# -gt 0 ]]; then
    selected=()
    for name in "$@"; do
        found=0
        for target in "${TARGETS[@]}"; do
            if [[ "${target#*:}" == "$name" || "$target" == "$name" ]]; then
                selected+=("$target")
                found=1
            fi
        done
        if [[ $found == 0 ]]; then
            echo "unknown target: $name (see TARGETS in $0)" >&2
            exit 2
        fi
    done
    TARGETS=("${selected[@]}")
fi

if [[ -n "${MUTMUT:-}" ]]; then
    mutmut=$MUTMUT
elif command -v mutmut >/dev/null; then
    mutmut=$(command -v mutmut)
else
    mutmut=/tmp/venv/bin/mutmut
fi

# mutmut's mutant names: MODULE.x_FUNCTION__mutmut_N for a function and
# MODULE.xǁClassǁmethod__mutmut_N for a method.
prefix() {
    local module=${1%%:*} name=${1#*:}
    if [[ $name == *.* ]]; then
        echo "$module.xǁ${name%%.*}ǁ${name#*.}__mutmut_"
    else
        echo "$module.x_${name}__mutmut_"
    fi
}

globs=()
for target in "${TARGETS[@]}"; do
    globs+=("$(prefix "$target")*")
done

run_mutmut() {
    # mutmut's progress output is a spinner: keep only its last lines.
    "$mutmut" run --max-children "${MUTMUT_CHILDREN:-1}" "$@" |
        tr '\r' '\n' | grep -v '^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]' | tail -n 5 || true
}

if [[ -z "${REPORT_ONLY:-}" ]]; then
    if [[ -n "${FULL:-}" || ! -d mutants ]]; then
        # Globs: mutmut (re)tests every matching mutant.
        run_mutmut "${globs[@]}"
    else
        # Explicit names of the mutants not yet killed (mutmut would retest every
        # mutant matching a glob).
        pending=()
        known=$("$mutmut" results --all true 2>/dev/null)
        for target in "${TARGETS[@]}"; do
            p=$(prefix "$target")
            while read -r name; do
                [[ -n $name ]] && pending+=("$name")
            done < <(grep -F "    $p" <<<"$known" | grep -v ': killed$' |
                sed 's/^ *//; s/: [a-z ]*$//' || true)
        done
        if [[ ${#pending[@]} -gt 0 ]]; then
            echo "testing ${#pending[@]} mutants not yet killed"
            run_mutmut "${pending[@]}"
        fi
    fi
fi

results=$("$mutmut" results --all true 2>/dev/null)
printf '\n%-60s %7s %8s %6s %6s\n' target killed survived other total
total_killed=0 total_survived=0 total_all=0
survivors=()
for target in "${TARGETS[@]}"; do
    p=$(prefix "$target")
    lines=$(grep -F "    $p" <<<"$results" || true)
    all=$(grep -c . <<<"$lines" || true)
    killed=$(grep -c ': killed$' <<<"$lines" || true)
    survived=$(grep -c ': survived$' <<<"$lines" || true)
    while read -r name; do
        [[ -n $name ]] && survivors+=("$name")
    done < <(grep ': survived$' <<<"$lines" | sed 's/^ *//; s/: survived$//' || true)
    printf '%-60s %7d %8d %6d %6d\n' "$target" "$killed" "$survived" \
        $((all - killed - survived)) "$all"
    total_killed=$((total_killed + killed))
    total_survived=$((total_survived + survived))
    total_all=$((total_all + all))
done
printf '%-60s %7d %8d %6d %6d\n' TOTAL "$total_killed" "$total_survived" \
    $((total_all - total_killed - total_survived)) "$total_all"
if [[ $total_all -gt 0 ]]; then
    awk -v k="$total_killed" -v t="$total_all" \
        'BEGIN { printf "score: %d/%d killed = %.1f %%\n", k, t, 100 * k / t }'
fi
if [[ ${#survivors[@]} -gt 0 ]]; then
    echo "surviving mutants (inspect with: $mutmut show NAME):"
    printf '  %s\n' "${survivors[@]}"
fi
